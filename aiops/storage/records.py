"""Storage records: what the store reads and writes, kept apart from API bodies.

Plain frozen dataclasses so they cross Ray process boundaries cheaply; the web layer maps
them onto its response schemas and never returns them raw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class TenantRecord:
    tenant_id: str
    name: str
    plan: str
    contact_email: str
    created_at: datetime
    events_this_month: int = 0


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored: its hash and display prefix, never the key itself."""

    tenant_id: str
    key_id: str
    name: str
    scope: str
    prefix: str
    key_hash: str
    rate_limit_rps: float
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class IngestOutcome:
    """What storing a batch did: points written, series new to the tenant, or why refused."""

    accepted_points: int
    new_series: int
    refused: str | None = None  # set when nothing was written: over the series limit
    conflict: str | None = None  # set when nothing was written: it would change a stored point
    # With keep_stored: the points left out because they would change a stored point (positions
    # in the batch's points), and the first of them in words.
    changed_points: np.ndarray | None = None
    change: str | None = None


@dataclass(frozen=True)
class StoredSeries:
    """One series read back: identity, labels, and its points as ``(unix_seconds, value)``."""

    series_id: int
    service_id: str
    metric_name: str
    labels: dict[str, str]
    points: list[list[float]]  # [unix_seconds, value] pairs


@dataclass(frozen=True)
class AnomalyRecord:
    """One anomaly episode: consecutive anomalous points of a series (or one alert)."""

    tenant_id: str
    anomaly_id: str
    service_id: str
    metric_name: str
    series_id: int
    labels: dict[str, str]
    source: str  # "watchdog" or "alertmanager"
    model: str
    anomaly_score: float
    z_score: float
    detected_at: datetime
    last_seen_at: datetime
    rca_triggered: bool = False
    resolved: bool = False
    feedback: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class AnomalyPage:
    anomalies: list[AnomalyRecord]
    total: int
    next_after: tuple[datetime, str] | None  # keyset position of the last row, when more follow


WAITED_FOR = 1  # the RcaRecord.priority of a request someone is waiting on


@dataclass(frozen=True)
class RcaRecord:
    """One root-cause analysis request and, once done, its result (JSON-ready lists)."""

    tenant_id: str
    anomaly_id: str
    status: str  # "pending", "running", "done" or "failed"
    requested_at: datetime
    updated_at: datetime
    ranker: str = ""
    root_causes: list = field(default_factory=list)
    blast_radius: list = field(default_factory=list)
    similar_incidents: list = field(default_factory=list)
    summary: str = ""
    error: str = ""  # why it failed, in words for a person (never an exception's text)
    attempts: int = 0
    worker: int = -1
    priority: int = 0  # WAITED_FOR: someone waits on it (an alert, an on-demand GET); taken first
    error_code: str = ""  # why it failed, as a stable code (RCA_FAILURES)
    summary_by: str = ""  # "template" or "llm": who wrote the summary


# Why an RCA failed: stable codes (the RCA result's reason_code), each with its meaning.
RCA_FAILURES = {
    "anomaly_gone": "the anomaly no longer exists",
    "no_metrics": "no metrics, spans or logs were stored in the analysis window",
    "gave_up": "every attempt ended with its worker dying",
    "analysis_error": "the analysis failed unexpectedly (details in the RCA worker's log)",
}


@dataclass(frozen=True)
class GraphSnapshot:
    """A tenant's learned correlation graph as last computed, with its declared edges."""

    tenant_id: str
    computed_at: datetime
    services: list[str]
    edges: list  # models.telemetry.graph.Edge


@dataclass(frozen=True)
class AlertRecord:
    """One Alertmanager alert (by tenant, fingerprint and start) and the anomaly it maps to."""

    tenant_id: str
    fingerprint: str
    starts_at: datetime
    ends_at: datetime | None
    status: str
    alertname: str
    service_id: str
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    anomaly_id: str
    linked_anomalies: list[str]
    received_at: datetime
    key_id: str = ""  # the webhook key the notice came with ("" when it came with none)


@dataclass(frozen=True)
class AlertOutcome:
    """What storing one Alertmanager payload did: refused whole (and why), or the RCAs it queued."""

    refused: str = ""  # set when nothing was written
    needs_key: bool = False  # refused because a webhook key is required and none was presented
    queued: list[str] = field(default_factory=list)  # anomaly ids whose RCA was requested now


@dataclass(frozen=True)
class Resolution:
    """A resolution people wrote (how a past incident was fixed), with its embedding once a
    vectorizer made it: one entry of the incident memory. Stored in table ``knowledge_base``,
    ``resolution_id`` in column ``kb_id``; the API calls it ``knowledge_base_id`` (names kept
    for stored data and published clients)."""

    tenant_id: str
    resolution_id: str  # "kb-" + hash of tenant, incident and text (aiops.incident_memory.resolution_id_for)
    incident_id: str
    service_id: str
    resolution: str
    resolved_by: str
    time_to_recovery_minutes: float | None
    tags: list[str]
    created_at: datetime
    embedding: list[float] = field(default_factory=list)
    embedding_model: str = ""
    embedding_version: str = ""


@dataclass(frozen=True)
class ResolutionMatch:
    record: Resolution
    similarity: float
