"""RCA bodies (reference: RCA; CONTRACT.md: RCA result) and declared topology."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from aiops.schemas.common import RequestBody


class Correlation(BaseModel):
    related_service: str
    correlation_score: float
    lag_minutes: int = Field(description="positive: the related service moves after the origin (downstream)")
    direction: Literal["upstream", "downstream"]
    depth: int = Field(description="hops from the origin in the graph (beyond the reference)")


class Correlations(BaseModel):
    service_id: str
    correlations: list[Correlation]


class RcaEvidence(BaseModel):
    metric_name: str
    z_score: float
    at: datetime


class RootCause(BaseModel):
    service_id: str
    score: float
    evidence: list[RcaEvidence]


class BlastRadiusEntry(BaseModel):
    service_id: str
    lag_minutes: int
    correlation_score: float
    depth: int


class SimilarIncident(BaseModel):
    incident_id: str
    resolution: str
    similarity: float


class RcaResult(BaseModel):
    anomaly_id: str
    status: Literal["pending", "done", "failed"]
    root_causes: list[RootCause]
    blast_radius: list[BlastRadiusEntry]
    similar_incidents: list[SimilarIncident]
    summary: str
    # Beyond the contract: who wrote the summary, the engine's template or an LLM (llm.url)
    # from the facts; an LLM's words deserve a second look before acting on them.
    summary_by: Literal["template", "llm"] | None = None
    # Beyond the contract: why it failed (words, and a stable code), which ranker, and when.
    reason: str | None = None
    reason_code: Literal["anomaly_gone", "no_metrics", "gave_up", "analysis_error"] | None = None
    ranker: str | None = None
    requested_at: datetime
    updated_at: datetime


class CallEdge(BaseModel):
    caller: str = Field(min_length=1, max_length=256)
    callee: str = Field(min_length=1, max_length=256)


class TopologyIn(RequestBody):
    edges: list[CallEdge] = Field(max_length=100_000, description="known caller -> callee calls; replaces the last")

    @field_validator("edges")
    @classmethod
    def _no_self_calls(cls, edges: list[CallEdge]) -> list[CallEdge]:
        for index, edge in enumerate(edges):
            if edge.caller == edge.callee:
                raise ValueError(f"edges[{index}]: a service cannot call itself ({edge.caller!r})")
        return edges


class TopologyOut(BaseModel):
    edges: list[CallEdge]
    services: int
    declared_by: str | None
    declared_at: datetime | None
