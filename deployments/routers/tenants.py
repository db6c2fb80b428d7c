"""``/api/v1/tenants``: the super-admin's registry of tenants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response

from aiops.errors import Conflict, NotFound
from aiops.schemas.tenants import TenantCreate, TenantCreated, TenantList, TenantPublic
from aiops.tenants import new_tenant
from deployments.deps import Ctx, TenantManager
from deployments.routers import error_responses
from deployments.routing import AuthorizedRoute

router = APIRouter(prefix="/api/v1", tags=["tenants"], route_class=AuthorizedRoute)


@router.get("/tenants", response_model=TenantList)
async def list_tenants(_: TenantManager, context: Ctx) -> TenantList:
    tenants = await context.store.aio.list_all_tenants()
    return TenantList(
        tenants=[
            TenantPublic(tenant_id=t.tenant_id, name=t.name, plan=t.plan, created_at=t.created_at,
                         events_this_month=t.events_this_month)
            for t in tenants
        ]
    )


@router.post(
    "/tenants",
    response_model=TenantCreated,
    status_code=201,
    responses=error_responses(409),
)
async def create_tenant(body: TenantCreate, _: TenantManager, context: Ctx) -> TenantCreated:
    record = new_tenant(body, context.settings, datetime.now(UTC))
    if not await context.store.aio.create_tenant(record):
        deleted = await context.store.aio.tenant_deleted_at(record.tenant_id)
        if deleted is not None:
            raise Conflict(f"tenant id {record.tenant_id!r} belonged to a tenant deleted at "
                           f"{deleted.isoformat().replace('+00:00', 'Z')}; ids are never reused: choose another")
        raise Conflict(f"tenant {record.tenant_id!r} already exists")
    context.auth.tenants.forget(record.tenant_id)
    return TenantCreated(tenant_id=record.tenant_id, created_at=record.created_at)


@router.delete("/tenants/{tenant_id}", status_code=204, response_class=Response)
async def delete_tenant(tenant_id: Annotated[str, Path(min_length=1, max_length=64)], _: TenantManager,
                        context: Ctx) -> Response:
    """Offboard a tenant: its keys are revoked and its tokens and keys stop working (within
    ``auth.tenant_cache_seconds``); its stored rows remain until their retention ends; its id
    is retired (creating it again is a 409)."""
    if not await context.store.aio.delete_tenant(tenant_id, datetime.now(UTC)):
        raise NotFound(f"tenant {tenant_id!r} not found")
    context.auth.tenants.forget(tenant_id)
    context.auth.keys.forget_all()
    return Response(status_code=204)
