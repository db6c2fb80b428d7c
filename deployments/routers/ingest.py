"""Metric ingestion: ``POST /api/v1/ingest/metrics`` (JSON) and ``/ingest/prometheus`` (remote_write).

Credentials first, then size: bodies over ``ingest.max_body_bytes`` are refused with 413
before anything is parsed; compressed bodies may inflate to ``ingest.max_decompressed_bytes``
at most, and a batch may hold ``ingest.max_series_per_batch`` series and
``ingest.max_points_per_batch`` points (never more than twice the plan's points per second),
all checked before any per-series or per-point work. Decoding runs on a worker thread, not
on the replica's event loop. A batch is accepted or refused whole, and 200 comes only once
it is durable.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request

from aiops.errors import Unavailable, UnsupportedMediaType
from aiops.ingest.builder import BatchBuilder, BatchLimits
from aiops.ingest.json_format import decode_json_batch
from aiops.ingest.remote_write import check_content_type, decode_remote_write
from aiops.schemas.ingest import IngestAccepted
from deployments.bodies import read_body, require_content_type
from deployments.deps import Ctx, Ingester
from deployments.routers import error_responses
from deployments.routing import AuthorizedRoute

router = APIRouter(prefix="/api/v1/ingest", tags=["ingestion"], route_class=AuthorizedRoute)


def builder(context: Ctx) -> BatchBuilder:
    ingest = context.settings.ingest
    return BatchBuilder(now_ms=int(time.time() * 1000), max_past_seconds=ingest.max_past_seconds,
                        max_future_seconds=ingest.max_future_seconds)


async def limits(context: Ctx, tenant_id: str) -> BatchLimits:
    """What one batch may hold: the settings, and never more points than the plan's burst."""
    plan = await context.auth.tenants.plan_of(tenant_id)
    if plan is None:  # authentication already checked; the tenant vanished since
        raise Unavailable("tenant is being changed, retry shortly")
    return BatchLimits.of(context.settings.ingest, max_points=int(2 * plan.points_per_second))


JSON_BODY = {"content": {"application/json": {"schema": {"type": "object", "required": ["series"]}}}}
PROTOBUF_BODY = {"content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}}


@router.post("/metrics", response_model=IngestAccepted, response_model_exclude_none=True,
             openapi_extra={"requestBody": JSON_BODY}, responses=error_responses(400, 413, 415))
async def ingest_metrics(request: Request, identity: Ingester, context: Ctx) -> IngestAccepted:
    """A JSON batch of series; see CONTRACT.md for the shape."""
    require_content_type(request, "application/json")
    body = await read_body(request, context.settings.ingest.max_body_bytes)
    bounds = await limits(context, identity.tenant_id)
    batch = await asyncio.to_thread(decode_json_batch, body, builder(context), bounds)
    accepted = await context.ingest.accept(identity.tenant_id, batch, "json")
    return IngestAccepted(accepted=accepted.points)


@router.post("/prometheus", response_model=IngestAccepted, response_model_exclude_none=True,
             openapi_extra={"requestBody": PROTOBUF_BODY}, responses=error_responses(400, 413, 415))
async def ingest_prometheus(request: Request, identity: Ingester, context: Ctx) -> IngestAccepted:
    """Prometheus remote_write 1.0 (snappy-compressed protobuf WriteRequest); 2.0 bodies get 415."""
    check_content_type(request.headers.get("content-type"))
    encoding = request.headers.get("content-encoding", "snappy").lower()
    if encoding != "snappy":
        raise UnsupportedMediaType(f"Content-Encoding must be snappy, not {encoding}")
    body = await read_body(request, context.settings.ingest.max_body_bytes)
    bounds = await limits(context, identity.tenant_id)
    result = await asyncio.to_thread(decode_remote_write, body, builder(context), bounds)
    for reason, count in result.skipped.items():
        context.metrics.ingest_skipped.labels(reason).inc(count)
    skipped = result.skipped or None
    if result.batch is None:
        return IngestAccepted(accepted=0, skipped=skipped)
    accepted = await context.ingest.accept(identity.tenant_id, result.batch, "remote_write")
    return IngestAccepted(accepted=accepted.points, skipped=skipped)
