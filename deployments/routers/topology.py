"""``/api/v1/topology``: caller -> callee edges, declared (``PUT``) and observed in spans.

Observed edges are the calls the tenant's traces showed (a span whose parent belongs to
another service, or a client span naming its ``peer.service``), summed over the window
``[since, until)`` (default: the last hour). They are a prior for root-cause ranking and
blast radius as declared ones are, and take their place in analyses where a tenant has them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from aiops.errors import Unprocessable
from aiops.schemas.rca import TopologyEdge, TopologyIn, TopologyOut
from aiops.storage.telemetry_records import ObservedCall
from deployments.deps import Ctx, Reader, Writer
from deployments.routing import AuthorizedRoute
from deployments.timeparams import query_time

router = APIRouter(prefix="/api/v1/topology", tags=["rca"], route_class=AuthorizedRoute)


def _out(calls: list[tuple[str, str]], declared_by: str | None, declared_at: datetime | None,
         observed: list[ObservedCall] | None = None, window: tuple[datetime, datetime] | None = None) -> TopologyOut:
    edges = [TopologyEdge(caller=a, callee=b, source="declared") for a, b in calls]
    edges += [TopologyEdge(caller=o.caller, callee=o.callee, source="observed", calls=o.calls, errors=o.errors,
                           latency_ms_mean=round(o.latency_ms_mean, 3), latency_ms_p95=round(o.latency_ms_p95, 3),
                           last_seen=o.last_minute) for o in observed or []]
    services = {s for edge in edges for s in (edge.caller, edge.callee)}
    return TopologyOut(edges=edges, services=len(services), declared_by=declared_by, declared_at=declared_at,
                       observed_since=window[0] if window else None, observed_until=window[1] if window else None)


@router.get("", response_model=TopologyOut)
async def get_topology(
    identity: Reader,
    context: Ctx,
    since: Annotated[datetime | None, Query(description="observed edges from; default until - 1h")] = None,
    until: Annotated[datetime | None, Query(description="observed edges until; default now")] = None,
) -> TopologyOut:
    until = query_time("until", until) or datetime.now(UTC)
    since = query_time("since", since) or until - timedelta(hours=1)
    if since >= until:
        raise Unprocessable("since must be before until")
    found = await context.store.aio.load_topology(identity.tenant_id)
    observed = await context.store.aio.observed_calls(identity.tenant_id, since, until)
    calls, declared_by, declared_at = found or ([], None, None)
    return _out(calls, declared_by, declared_at, observed=observed, window=(since, until))


@router.put("", response_model=TopologyOut)
async def put_topology(body: TopologyIn, identity: Writer, context: Ctx) -> TopologyOut:
    """Replace the tenant's declared call edges (an empty list clears them; observed edges stay)."""
    calls = list(dict.fromkeys((e.caller, e.callee) for e in body.edges))
    now = datetime.now(UTC)
    await context.store.aio.save_topology(identity.tenant_id, calls, identity.user_id, now)
    return _out(calls, identity.user_id, now)
