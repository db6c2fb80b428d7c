"""``GET /api/v1/rbac/permissions``."""

from __future__ import annotations

from pydantic import BaseModel


class PermissionsResponse(BaseModel):
    tenant_id: str
    user_id: str
    role: str
    level: int
    permissions: list[str]
