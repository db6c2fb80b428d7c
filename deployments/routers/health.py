"""Liveness, readiness and the engine's own metrics: open endpoints, no auth."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from actors.directory import RATE_LIMITER, RCA_WORKER, TELEMETRY_ROLLUP, VECTORIZER, WATCHDOG_SHARD, WEBHOOK_LISTENER
from aiops.schemas.status import HealthResponse
from deployments.deps import Ctx
from deployments.routing import AuthorizedRoute

router = APIRouter(tags=["health"], route_class=AuthorizedRoute)


@router.get("/-/healthy", response_model=HealthResponse)
async def healthy() -> HealthResponse:
    """The API process is up (says nothing about its dependencies)."""
    return HealthResponse(status="ok")


@router.get("/-/ready", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def ready(context: Ctx):
    """Ready when storage answers and every actor of every role answers."""
    probe = context.probe
    clickhouse, listener, limiter, roles = await asyncio.gather(
        probe.clickhouse(),
        probe.singleton(WEBHOOK_LISTENER),
        probe.singleton(RATE_LIMITER),
        asyncio.gather(*(probe.role(role) for role in (WATCHDOG_SHARD, VECTORIZER, RCA_WORKER, TELEMETRY_ROLLUP))),
    )
    watchdog, vectorizer, rca, rollup = roles
    checks = {
        "clickhouse": clickhouse,
        "watchdog": watchdog.word,
        "vectorizer": vectorizer.word,
        "rca": rca.word,
        "telemetry_rollup": rollup.word,
        "webhook_listener": listener,
        "rate_limiter": limiter,
    }
    is_ready = (
        clickhouse == "ok"
        and watchdog.answered_all
        and vectorizer.answered_all
        and rca.answered_all
        and rollup.answered_all
        and listener == "running"
        and limiter == "running"
    )
    body = HealthResponse(status="ready" if is_ready else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if is_ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics(context: Ctx) -> Response:
    """Prometheus text exposition of the engine's own counters, and the actors' latest figures."""
    shards, workers, vectorizers = await asyncio.gather(
        context.probe.role(WATCHDOG_SHARD), context.probe.role(RCA_WORKER), context.probe.role(VECTORIZER))
    context.metrics.observe_actors(shards.answers, workers.answers, vectorizers.answers)
    return Response(context.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
