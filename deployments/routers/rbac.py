"""``GET /api/v1/rbac/permissions``: what the caller may do."""

from __future__ import annotations

from fastapi import APIRouter

from aiops.schemas.rbac import PermissionsResponse
from deployments.deps import EngineReader
from deployments.routing import AuthorizedRoute

router = APIRouter(prefix="/api/v1/rbac", tags=["rbac"], route_class=AuthorizedRoute)


@router.get("/permissions", response_model=PermissionsResponse)
async def my_permissions(identity: EngineReader) -> PermissionsResponse:
    if identity.via == "api_key":  # a read-scoped key reads, nothing more
        permissions = ["read"]
    else:
        permissions = [permission.value for permission in identity.role.permissions]
    return PermissionsResponse(
        tenant_id=identity.tenant_id,
        user_id=identity.user_id,
        role=identity.role.value,
        level=identity.role.level,
        permissions=permissions,
    )
