"""``GET /api/v1/status`` and the health endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class Components(BaseModel):
    watchdog: str
    vectorizer: str
    rca: str
    llm: str
    clickhouse: str


class WatchdogFigures(BaseModel):
    last_run: datetime | None
    metrics_monitored: int
    anomalies_last_hour: int


class StatusResponse(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    components: Components
    watchdog: WatchdogFigures


class HealthResponse(BaseModel):
    status: str
    checks: dict[str, str] = {}
