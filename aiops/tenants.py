"""Registering a tenant: the rules both the API and the CLI apply."""

from __future__ import annotations

from datetime import datetime

from aiops.errors import Unprocessable
from aiops.schemas.tenants import TenantCreate
from aiops.settings import Settings
from aiops.storage.records import TenantRecord


def new_tenant(body: TenantCreate, settings: Settings, now: datetime) -> TenantRecord:
    """The record to store for ``body``; 422 when its plan is not a configured one."""
    plan = body.plan or settings.default_plan
    if plan not in settings.plans:
        raise Unprocessable(f"plan: {plan!r} is not one of {', '.join(sorted(settings.plans))}")
    return TenantRecord(
        tenant_id=body.tenant_id,
        name=body.name,
        plan=plan,
        contact_email=str(body.contact_email or ""),
        created_at=now,
    )
