"""Storage records: what the store reads and writes, kept apart from API bodies.

Plain frozen dataclasses so they cross Ray process boundaries cheaply; the web layer maps
them onto its response schemas and never returns them raw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TenantRecord:
    tenant_id: str
    name: str
    plan: str
    contact_email: str
    created_at: datetime
    events_this_month: int = 0
