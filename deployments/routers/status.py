"""``GET /api/v1/status``: system health and the watchdog's live figures.

``components`` holds exactly the reference's five words. The incident manager and the
notifier (#18) have no key there; they count towards the overall ``status`` (``degraded``
when either is not running) and are published as ``aiops_component_up{component=
"incident_manager"|"notifier"}`` like the five."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter

from actors.directory import INCIDENT_MANAGER, NOTIFIER, RCA_WORKER, VECTORIZER, WATCHDOG_SHARD
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
    words = {**components.model_dump(), **await incident_actors(context)}
    for name, word in words.items():
        context.metrics.component_up.labels(name).set(1 if word in HEALTHY else 0)

    overall = "ok" if all(word in HEALTHY for word in words.values()) else "degraded"
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


async def incident_actors(context: Ctx) -> dict[str, str]:
    """The incident manager's and the notifier's state words (``disabled`` with grouping off)."""
    if not context.settings.incident_grouping.enabled:
        return {"incident_manager": "disabled", "notifier": "disabled"}
    manager, notifier = await asyncio.gather(context.probe.singleton(INCIDENT_MANAGER),
                                             context.probe.singleton(NOTIFIER))
    return {"incident_manager": manager, "notifier": notifier}
