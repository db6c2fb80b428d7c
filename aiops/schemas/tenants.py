"""Tenant bodies (reference: Tenants)."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, EmailStr, Field, field_validator

from aiops.schemas.common import RequestBody

TENANT_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def check_tenant_id(value: str) -> str:
    """A tenant id is a lowercase slug: letters, digits and inner hyphens, 1-63 characters."""
    if not TENANT_ID_PATTERN.fullmatch(value):
        raise ValueError(
            "tenant_id must be a lowercase slug: a-z, 0-9 and inner '-', 1 to 63 characters"
        )
    return value


class TenantCreate(RequestBody):
    tenant_id: str
    name: str = Field(min_length=1, max_length=200)
    plan: str | None = Field(None, pattern=r"^[a-z0-9_-]{1,32}$", description="one of the configured plans")
    contact_email: EmailStr | None = None

    _tenant_id = field_validator("tenant_id")(check_tenant_id)


class TenantCreated(BaseModel):
    tenant_id: str
    created_at: datetime


class TenantPublic(BaseModel):
    tenant_id: str
    name: str
    plan: str
    created_at: datetime
    events_this_month: int


class TenantList(BaseModel):
    tenants: list[TenantPublic]
