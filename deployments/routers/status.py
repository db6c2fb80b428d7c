"""``GET /api/v1/status``: system health and the watchdog's live figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter

from actors.directory import RCA_WORKER, VECTORIZER, WATCHDOG_SHARD
from aiops import __version__
from aiops.auth.roles import Role
from aiops.schemas.status import Components, StatusResponse, WatchdogFigures
from aiops.storage.client import StorageUnavailable
from deployments.deps import Ctx, EngineReader
from deployments.routing import AuthorizedRoute

router = APIRouter(prefix="/api/v1", tags=["status"], route_class=AuthorizedRoute)

HEALTHY = {"running", "ready", "connected", "ok", "disabled"}


@router.get("/status", response_model=StatusResponse)
async def get_status(identity: EngineReader, context: Ctx) -> StatusResponse:
    probe = context.probe
    watchdog, vectorizer, rca, llm, clickhouse = await asyncio.gather(
        probe.role(WATCHDOG_SHARD), probe.role(VECTORIZER), probe.role(RCA_WORKER), probe.llm(), probe.clickhouse()
    )
    # A super-admin sees the whole engine; everyone else sees their own tenant.
    scope = None if identity.role is Role.SUPER_ADMIN else identity.tenant_id
    last_runs = [answer["last_run"] for answer in watchdog.answers if answer.get("last_run")]
    monitored = sum(
        count
        for answer in watchdog.answers
        for tenant, count in answer.get("series_by_tenant", {}).items()
        if scope is None or tenant == scope
    )
    anomalies = 0
    if clickhouse == "ok":
        try:
            anomalies = await context.store.aio.count_anomalies_since(datetime.now(UTC) - timedelta(hours=1), scope)
        except StorageUnavailable:
            clickhouse = "down"
    components = Components(
        watchdog=watchdog.word, vectorizer=vectorizer.word, rca=rca.word, llm=llm, clickhouse=clickhouse
    )
    for name, word in components.model_dump().items():
        context.metrics.component_up.labels(name).set(1 if word in HEALTHY else 0)

    overall = "ok" if all(word in HEALTHY for word in components.model_dump().values()) else "degraded"
    return StatusResponse(
        status=overall,
        version=__version__,
        components=components,
        watchdog=WatchdogFigures(
            last_run=max(last_runs) if last_runs else None,
            metrics_monitored=monitored,
            anomalies_last_hour=anomalies,
        ),
    )
