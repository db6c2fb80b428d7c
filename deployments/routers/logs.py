"""``GET /api/v1/logs``: log records read back, with the templates mined from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from aiops.errors import Unprocessable
from aiops.ingest.otlp.logs import number_of_text
from aiops.schemas.telemetry import Level, LogOut, LogsResponse, TemplateOut
from deployments.deps import Ctx, Reader
from deployments.routers.traces import at
from deployments.routing import AuthorizedRoute
from deployments.timeparams import query_time

router = APIRouter(prefix="/api/v1/logs", tags=["logs"], route_class=AuthorizedRoute)

TEMPLATES_LISTED = 50


@router.get("", response_model=LogsResponse)
async def list_logs(
    identity: Reader,
    context: Ctx,
    service_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    since: Annotated[datetime | None, Query(description="RFC3339 or unix seconds; default until - 1h")] = None,
    until: Annotated[datetime | None, Query(description="RFC3339 or unix seconds; default now")] = None,
    severity: Annotated[Level | None, Query(description="this level and above")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LogsResponse:
    """Records stamped in ``[since, until)``, newest first, and the templates of the records that match
    (most records first). A record's template is known once its minute has been rolled up."""
    until = query_time("until", until) or datetime.now(UTC)
    since = query_time("since", since) or until - timedelta(hours=1)
    if since >= until:
        raise Unprocessable("since must be before until")
    floor = number_of_text(severity) if severity and severity != "UNSPECIFIED" else 0
    records = await context.store.aio.list_logs(identity.tenant_id, service_id, since, until, floor, limit)
    templates = await context.store.aio.log_templates_in_window(identity.tenant_id, service_id, since, until, floor,
                                                                TEMPLATES_LISTED)
    return LogsResponse(
        logs=[LogOut(timestamp=at(r.timestamp_unix_nano), timestamp_unix_nano=r.timestamp_unix_nano,
                     service_id=r.service, severity=r.severity, severity_number=r.severity_number, body=r.body,
                     trace_id=r.trace_id or None, span_id=r.span_id or None, attributes=r.attributes,
                     template_id=r.template_id, template=r.template) for r in records],
        templates=[TemplateOut(template_id=t.template_id, template=t.template, records=t.records,
                               first_seen=t.first_seen) for t in templates],
    )
