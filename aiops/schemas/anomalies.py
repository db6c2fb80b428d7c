"""Anomaly bodies (reference: Anomalies; CONTRACT.md: PATCH)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, model_validator

from aiops.schemas.common import RequestBody


class AnomalyOut(BaseModel):
    anomaly_id: str
    service_id: str
    metric_name: str
    anomaly_score: float
    z_score: float
    detected_at: datetime
    rca_triggered: bool
    resolved: bool
    # Beyond the reference: where it came from and how it evolved.
    source: str
    model: str
    last_seen_at: datetime
    labels: dict[str, str]
    feedback: str | None


class AnomalyList(BaseModel):
    anomalies: list[AnomalyOut]
    total: int
    page_token: str | None


class AnomalyPatch(RequestBody):
    resolved: bool | None = None
    feedback: Literal["true_positive", "false_positive"] | None = None

    @model_validator(mode="after")
    def _something(self) -> AnomalyPatch:
        if self.resolved is None and self.feedback is None:
            raise ValueError("give resolved and/or feedback")
        return self
