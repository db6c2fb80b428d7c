"""Metric ingestion: ``POST /api/v1/ingest/metrics`` (JSON) and ``/ingest/prometheus`` (remote_write).

Bodies over ``ingest.max_body_bytes`` are refused with 413 before anything is parsed;
a batch is accepted or refused whole, and 200 comes only once it is durable.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from aiops.errors import UnsupportedMediaType
from aiops.ingest.builder import BatchBuilder
from aiops.ingest.json_format import decode_json_batch
from aiops.ingest.remote_write import decode_remote_write
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


JSON_BODY = {"content": {"application/json": {"schema": {"type": "object", "required": ["series"]}}}}
PROTOBUF_BODY = {"content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}}


@router.post("/metrics", response_model=IngestAccepted, openapi_extra={"requestBody": JSON_BODY},
             responses=error_responses(400, 413, 415))
async def ingest_metrics(request: Request, identity: Ingester, context: Ctx) -> IngestAccepted:
    """A JSON batch of series; see CONTRACT.md for the shape."""
    require_content_type(request, "application/json")
    body = await read_body(request, context.settings.ingest.max_body_bytes)
    batch = decode_json_batch(body, builder(context))
    accepted = await context.ingest.accept(identity.tenant_id, batch, "json")
    return IngestAccepted(accepted=accepted)


@router.post("/prometheus", response_model=IngestAccepted, openapi_extra={"requestBody": PROTOBUF_BODY},
             responses=error_responses(400, 413, 415))
async def ingest_prometheus(request: Request, identity: Ingester, context: Ctx) -> IngestAccepted:
    """Prometheus remote_write 1.0 (snappy-compressed protobuf WriteRequest)."""
    require_content_type(request, "application/x-protobuf")
    encoding = request.headers.get("content-encoding", "snappy").lower()
    if encoding != "snappy":
        raise UnsupportedMediaType(f"Content-Encoding must be snappy, not {encoding}")
    body = await read_body(request, context.settings.ingest.max_body_bytes)
    result = decode_remote_write(body, builder(context))
    if result.skipped_non_finite:
        context.metrics.ingest_skipped.labels("non_finite").inc(result.skipped_non_finite)
    if result.batch is None:
        return IngestAccepted(accepted=0)
    accepted = await context.ingest.accept(identity.tenant_id, result.batch, "remote_write")
    return IngestAccepted(accepted=accepted)
