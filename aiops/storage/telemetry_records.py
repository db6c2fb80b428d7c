"""Storage records of OpenTelemetry data: spans, traces, log records, templates, observed calls.

Plain frozen dataclasses (they cross Ray process boundaries); times are unix nanoseconds
as OTLP carries them, or aware datetimes for minutes. The web layer maps them onto its
response schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class TelemetryOutcome:
    """What storing a batch of spans or log records did."""

    stored: int  # items written now, or found already written (a retry)
    rejected: int = 0  # items refused by a per-tenant bound (span names), not written
    reason: str = ""  # why, for OTLP's partial_success message


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    start_unix_nano: int
    end_unix_nano: int
    spans: int
    errors: int
    services: list[str]
    root_service: str  # the service of the earliest span without a parent (else of the earliest span)
    root_operation: str


@dataclass(frozen=True)
class StoredSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    operation: str
    kind: int  # OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer
    start_unix_nano: int
    duration_ns: int
    status_code: int  # OTLP StatusCode: 0 unset, 1 ok, 2 error
    status_message: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredLog:
    timestamp_unix_nano: int
    service: str
    severity: str
    severity_number: int
    body: str
    trace_id: str
    span_id: str
    attributes: dict[str, str]
    template_id: int | None  # None until the record's minute has been mined
    template: str | None


@dataclass(frozen=True)
class TemplateCount:
    """One log template's records in a window."""

    template_id: int
    template: str
    records: int
    first_seen: datetime


@dataclass(frozen=True)
class ObservedCall:
    """Caller -> callee calls seen in spans over a window."""

    caller: str
    callee: str
    calls: int
    errors: int
    latency_ms_mean: float
    latency_ms_p95: float  # the highest per-minute p95 in the window
    first_minute: datetime
    last_minute: datetime


@dataclass(frozen=True)
class ServiceMinute:
    """A service's spans that started in one minute (the health series' inputs)."""

    service: str
    spans: int
    requests: int  # entry spans: server or consumer kind, or without a parent
    errors: int  # entry spans with status ERROR
    latency_ns: tuple[float, float, float]  # p50, p95, p99 of entry spans (meaningless when requests == 0)
    self_time_ns: float  # mean over the service's spans of duration minus direct children


@dataclass(frozen=True)
class LogShape:
    """A distinct message shape (the body with tokens holding digits as ``<*>``) of one service in one minute."""

    service: str
    severity: str  # level name
    shape_hash: int
    shape: str
    records: int
    template_id: int  # 0 when the shape has not been mined yet


@dataclass(frozen=True)
class LogMinute:
    severities: list[tuple[str, str, int]]  # (service, level, records)
    shapes: list[LogShape]
