"""``GET /api/v1/series``: stored points read back, raw or averaged per ``step``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from aiops.errors import Unprocessable
from aiops.schemas.ingest import SeriesOut, SeriesResponse
from deployments.deps import Ctx, Reader
from deployments.routing import AuthorizedRoute
from deployments.timeparams import query_time

router = APIRouter(prefix="/api/v1", tags=["series"], route_class=AuthorizedRoute)


@router.get("/series", response_model=SeriesResponse)
async def read_series(
    identity: Reader,
    context: Ctx,
    service_id: Annotated[str, Query(min_length=1, max_length=256)],
    metric_name: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    since: Annotated[datetime | None, Query(description="RFC3339 or unix seconds; default until - 1h")] = None,
    until: Annotated[datetime | None, Query(description="RFC3339 or unix seconds; default now")] = None,
    step: Annotated[int | None, Query(ge=1, le=86_400, description="seconds per averaged point")] = None,
) -> SeriesResponse:
    until = query_time("until", until) or datetime.now(UTC)
    since = query_time("since", since) or until - timedelta(hours=1)
    if since >= until:
        raise Unprocessable("since must be before until")
    limit = context.settings.ingest.max_points_per_read
    found = await context.store.aio.read_series(identity.tenant_id, service_id, metric_name, since, until, step, limit)
    if found is None:
        raise Unprocessable(f"more than {limit} points match; narrow since/until or set a larger step")
    return SeriesResponse(series=[
        SeriesOut(service_id=s.service_id, metric_name=s.metric_name, labels=s.labels, points=s.points)
        for s in found
    ])
