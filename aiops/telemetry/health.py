"""The series spans and log records become, per service and minute (each point at the minute's start).

From spans (a service's *entry* spans are its server and consumer spans, and spans
without a parent: the requests it served):

| metric | what |
|---|---|
| ``span_requests_per_minute`` | entry spans that started in the minute |
| ``span_errors_per_minute`` | those with status ERROR |
| ``span_error_rate`` | errors / requests (0 to 1) |
| ``span_latency_p50_ms``, ``span_latency_p95_ms``, ``span_latency_p99_ms`` | quantiles of the entry spans' durations |
| ``span_self_time_ms`` | mean over all the service's spans of duration minus direct children |

From log records:

| metric | labels | what |
|---|---|---|
| ``log_records_per_minute`` | ``severity`` (level name) | records |
| ``log_template_records_per_minute`` | ``template_id`` | records of one template |
| ``log_new_templates_per_minute`` | | templates first seen in the minute |

Latency and error series exist only for minutes with requests. These series are written
like any other (they are stored, listed by ``GET /api/v1/series`` and watched by the
watchdog), but are not counted as the tenant's ingested events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np

from aiops.ingest.batch import PointBatch
from aiops.ingest.builder import BatchBuilder
from aiops.storage.telemetry_records import ServiceMinute

REQUESTS = "span_requests_per_minute"
ERRORS = "span_errors_per_minute"
ERROR_RATE = "span_error_rate"
LATENCY = ("span_latency_p50_ms", "span_latency_p95_ms", "span_latency_p99_ms")
SELF_TIME = "span_self_time_ms"
LOG_RECORDS = "log_records_per_minute"
TEMPLATE_RECORDS = "log_template_records_per_minute"
NEW_TEMPLATES = "log_new_templates_per_minute"

SPAN_METRICS = (REQUESTS, ERRORS, ERROR_RATE, *LATENCY, SELF_TIME)
LOG_METRICS = (LOG_RECORDS, TEMPLATE_RECORDS, NEW_TEMPLATES)
TELEMETRY_METRICS = frozenset(SPAN_METRICS + LOG_METRICS)  # every series the rollup derives


class MinutePoints:
    """Points of one minute, gathered as (service, metric, labels, value) and built into one batch."""

    def __init__(self, minute: datetime) -> None:
        self._ms = int(minute.timestamp() * 1000)
        self._points: list[tuple[str, str, dict[str, str], float]] = []

    def add(self, service: str, metric: str, value: float, labels: dict[str, str] | None = None) -> None:
        if np.isfinite(value):
            self._points.append((service, metric, labels or {}, float(value)))

    def batch(self, builder: BatchBuilder) -> PointBatch | None:
        if not self._points:
            return None
        for service, metric, labels, value in self._points:
            builder.add(f"{metric} of {service!r}", service, metric, labels, np.array([self._ms], np.int64),
                        np.array([value], np.float64))
        return builder.build()


def span_points(points: MinutePoints, services: Iterable[ServiceMinute]) -> None:
    """The span health of each service (see the module doc)."""
    for row in services:
        if row.requests:
            points.add(row.service, REQUESTS, row.requests)
            points.add(row.service, ERRORS, row.errors)
            points.add(row.service, ERROR_RATE, row.errors / row.requests)
            for name, nanoseconds in zip(LATENCY, row.latency_ns, strict=True):
                points.add(row.service, name, nanoseconds / 1e6)
        if row.spans:
            points.add(row.service, SELF_TIME, row.self_time_ns / 1e6)
