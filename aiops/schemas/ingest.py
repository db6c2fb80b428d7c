"""Ingestion answers and the series read-back (CONTRACT.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class IngestAccepted(BaseModel):
    status: Literal["ok"] = "ok"
    accepted: int
    # Beyond the contract, only when something was: samples not stored, by reason
    # (remote_write: NaN staleness markers, native histograms, exemplars, values out of range).
    skipped: dict[str, int] | None = None


class SeriesOut(BaseModel):
    service_id: str
    metric_name: str
    labels: dict[str, str]
    points: list[tuple[float, float]]


class SeriesResponse(BaseModel):
    series: list[SeriesOut]
