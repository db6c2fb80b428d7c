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
    """What moved. The reference's three fields always come; ``kind`` and the rest are beyond it."""

    metric_name: str = Field(description="the metric that moved (kind metric), or the measure that did "
                                         "(trace: span_self_time, call_latency, missing_calls, error_spans; "
                                         "log: error_logs, missing_logs)")
    z_score: float = Field(description="how far it moved, signed: sigmas of its own past for metrics and span "
                                       "times; for counts, the Poisson log-likelihood ratio of what came against "
                                       "what was due")
    at: datetime = Field(description="when it was first seen after the anomaly began")
    kind: Literal["metric", "trace", "log"] = Field("metric", description="the telemetry it comes from")
    operation: str | None = Field(None, description="the span operation involved (trace and log evidence)")
    calls: str | None = Field(None, description="the call involved, 'caller -> callee' (trace evidence)")
    template: str | None = Field(None, description="the log template involved, variables as <*> (log evidence)")
    observed: float | None = Field(None, description="after the start: the median (ms) or the count")
    expected: float | None = Field(None, description="what the normal part of the window predicted for it")


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


class TopologyEdge(BaseModel):
    """A caller -> callee edge and where it is known from. An edge both declared and observed is listed
    once per source."""

    caller: str
    callee: str
    source: Literal["declared", "observed"]
    calls: int | None = Field(None, description="observed: calls in the window")
    errors: int | None = Field(None, description="observed: calls whose callee span had status ERROR")
    latency_ms_mean: float | None = Field(None, description="observed: mean call latency")
    latency_ms_p95: float | None = Field(None, description="observed: the highest per-minute p95 in the window")
    last_seen: datetime | None = Field(None, description="observed: the last minute with a call")


class TopologyOut(BaseModel):
    edges: list[TopologyEdge]
    services: int
    declared_by: str | None
    declared_at: datetime | None
    observed_since: datetime | None = Field(None, description="the window observed edges were summed over")
    observed_until: datetime | None = None
