"""Alertmanager's webhook payload (version 4) and the engine's answers (reference: Alertmanager
Webhook, Resolution Webhook; CONTRACT.md: incident search)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aiops.schemas.common import RequestBody


class AlertIn(BaseModel):
    """One alert as Alertmanager sends it. Unknown fields are ignored (newer Alertmanagers add some)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # noqa: N815 (Alertmanager's field names)
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = Field("", max_length=64)

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone (RFC3339)")
        return value


class AlertmanagerPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    groupKey: str = ""  # noqa: N815
    truncatedAlerts: int = Field(0, ge=0)  # noqa: N815
    status: Literal["firing", "resolved"] = "firing"
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str = ""  # noqa: N815
    alerts: list[AlertIn] = Field(min_length=1)


class WebhookAnswer(BaseModel):
    """Exactly the reference's answer (the first firing alert's anomaly; every alert is stored)."""

    status: Literal["ok"] = "ok"
    rca_triggered: bool
    anomaly_id: str | None


class ResolutionIn(RequestBody):
    incident_id: str | None = Field(None, min_length=1, max_length=128)
    service_id: str = Field(min_length=1, max_length=256)
    resolution: str = Field(min_length=1, max_length=20_000)
    resolved_by: str = Field("", max_length=256)
    time_to_recovery_minutes: float | None = Field(None, ge=0, le=10_000_000)
    tags: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("resolution")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("resolution must not be blank")
        return value

    @field_validator("tags")
    @classmethod
    def _short_tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not 0 < len(tag) <= 64:
                raise ValueError("each tag must be 1 to 64 characters")
        return tags


class ResolutionOut(BaseModel):
    status: Literal["ok"] = "ok"
    stored: bool
    knowledge_base_id: str


class IncidentSearchIn(RequestBody):
    query: str = Field(min_length=1, max_length=10_000)
    limit: int = Field(5, ge=1, le=50)


class IncidentMatch(BaseModel):
    incident_id: str
    resolution: str
    similarity: float
    # Beyond the contract: the rest of what was written down.
    knowledge_base_id: str
    service_id: str
    resolved_by: str
    time_to_recovery_minutes: float | None
    tags: list[str]
    created_at: datetime


class IncidentSearchOut(BaseModel):
    query: str
    model: str
    incidents: list[IncidentMatch]
