"""Incident and notification-channel bodies (``/api/v1/incidents``, ``/api/v1/notifications/channels``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from aiops.incident.model import SeverityLabel
from aiops.schemas.common import RequestBody


class IncidentOut(BaseModel):
    """One incident as listed: status, times, severity, root cause, services, member count."""

    incident_id: str
    status: Literal["open", "acknowledged", "resolved"]
    severity: SeverityLabel
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    started_at: datetime  # when the earliest member began
    root_cause: str | None
    blast_radius: list[str]
    services: list[str]
    members: int
    acknowledged_by: str | None
    resolved_by: str | None
    merged_into: str | None


class IncidentList(BaseModel):
    incidents: list[IncidentOut]
    total: int
    page_token: str | None


class IncidentDetail(IncidentOut):
    """One incident whole: its members (signals), its analysis, its timeline, where it was sent."""

    member_signals: list[dict]
    rca: dict | None
    timeline: list[dict]
    similar_incidents: list[dict]
    deliveries: list[dict]
    echoes: int


class IncidentPatch(RequestBody):
    """``{"status": "acknowledged" | "resolved", "by": "who"}`` (``by`` defaults to the caller)."""

    status: Literal["acknowledged", "resolved"]
    by: str | None = Field(None, min_length=1, max_length=200)


class ChannelTestResult(BaseModel):
    channel_id: str
    delivered: bool
    status_code: int | None
    error: str | None
