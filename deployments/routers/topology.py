"""``/api/v1/topology``: known caller -> callee edges, a prior for root-cause ranking and blast radius."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from aiops.schemas.rca import CallEdge, TopologyIn, TopologyOut
from deployments.deps import Ctx, Reader, Writer
from deployments.routing import AuthorizedRoute

router = APIRouter(prefix="/api/v1/topology", tags=["rca"], route_class=AuthorizedRoute)


def _out(calls: list[tuple[str, str]], declared_by: str | None, declared_at: datetime | None) -> TopologyOut:
    services = {s for pair in calls for s in pair}
    return TopologyOut(edges=[CallEdge(caller=a, callee=b) for a, b in calls], services=len(services),
                       declared_by=declared_by, declared_at=declared_at)


@router.get("", response_model=TopologyOut)
async def get_topology(identity: Reader, context: Ctx) -> TopologyOut:
    found = await context.store.aio.load_topology(identity.tenant_id)
    return _out(*found) if found else _out([], None, None)


@router.put("", response_model=TopologyOut)
async def put_topology(body: TopologyIn, identity: Writer, context: Ctx) -> TopologyOut:
    """Replace the tenant's declared call edges (an empty list clears them)."""
    calls = list(dict.fromkeys((e.caller, e.callee) for e in body.edges))
    now = datetime.now(UTC)
    await context.store.aio.save_topology(identity.tenant_id, calls, identity.user_id, now)
    return _out(calls, identity.user_id, now)
