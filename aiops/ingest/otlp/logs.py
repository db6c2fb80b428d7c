"""``ExportLogsServiceRequest`` -> rows of the ``logs`` table (one Arrow table).

A record's time is its ``time_unix_nano``, else its ``observed_time_unix_nano``, else
the moment it was received (``limits.now_ns``). Its severity is kept twice: OTLP's number (1-24) and a level
name (``TRACE``, ``DEBUG``, ``INFO``, ``WARN``, ``ERROR``, ``FATAL``, or ``UNSPECIFIED``),
taken from the number, or from ``severity_text`` when the number is unset (``warning`` is
``WARN``, ``critical`` is ``FATAL``, ...; the number is then the level's first one). The
body is text (structured bodies as compact JSON), cut at ``otlp.max_log_body_chars``.

A record is refused on its own (counted for ``partial_success``) when its trace id is
neither empty nor 16 bytes, its span id neither empty nor 8, its time is outside the
accepted range, or its ``service.name`` is longer than a series' service id may be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from aiops.ingest.otlp.common import (
    MAX_SERVICE_CHARS,
    AttributeColumns,
    OtlpLimits,
    Rejections,
    check_items,
    hex_column,
    id_lengths_ok,
    service_of,
    value_text,
)

LOG_COLUMNS = ("service", "timestamp", "severity_number", "severity", "body", "trace_id", "span_id", "attributes")
TIME_TYPE = pa.timestamp("ns", tz="UTC")

LEVELS = ("UNSPECIFIED", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
# Severity text as loggers write it -> the level's first SeverityNumber.
_TEXT_NUMBERS = {
    "TRACE": 1, "FINEST": 1, "FINER": 1, "DEBUG": 5, "FINE": 5, "CONFIG": 5, "INFO": 9, "INFORMATION": 9,
    "NOTICE": 10, "WARN": 13, "WARNING": 13, "ERROR": 17, "ERR": 17, "SEVERE": 17, "FATAL": 21,
    "CRITICAL": 21, "CRIT": 21, "ALERT": 22, "EMERGENCY": 23, "EMERG": 23, "PANIC": 23,
}


def level_of(number: int) -> str:
    """The level name of an OTLP SeverityNumber (1-4 TRACE, ..., 21-24 FATAL)."""
    return LEVELS[(number + 3) // 4] if 1 <= number <= 24 else LEVELS[0]


def number_of_text(text: str) -> int:
    return _TEXT_NUMBERS.get(text.strip().upper(), 0)


def level_number(level: str) -> int:
    """The first SeverityNumber of a level name (``INFO`` 9, ``ERROR`` 17; ``UNSPECIFIED`` 0)."""
    index = LEVELS.index(level) if level in LEVELS else 0
    return 4 * index - 3 if index else 0


@dataclass
class DecodedLogs:
    logs: pa.Table | None  # LOG_COLUMNS; None when no record was accepted
    rejections: Rejections

    @property
    def count(self) -> int:
        return 0 if self.logs is None else self.logs.num_rows


def decode_logs(request: ExportLogsServiceRequest, limits: OtlpLimits) -> DecodedLogs:
    """Every log record of ``request`` as a row, those refused left out and counted by reason;
    413 (before any per-record work) when it holds more than ``limits.max_items``."""
    check_items(sum(len(scope.log_records) for resource in request.resource_logs for scope in resource.scope_logs),
                limits.max_items, "log records")
    services, times, numbers, bodies, trace_ids, span_ids = [], [], [], [], [], []
    attributes = AttributeColumns(limits)
    body_chars, now_ns = limits.max_log_body_chars, limits.now_ns
    for resource_logs in request.resource_logs:
        service = service_of(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                services.append(service)
                times.append(record.time_unix_nano or record.observed_time_unix_nano or now_ns)
                number = record.severity_number
                numbers.append(number if number else number_of_text(record.severity_text))
                body = record.body
                bodies.append(body.string_value[:body_chars] if body.WhichOneof("value") == "string_value"
                              else value_text(body, body_chars))
                trace_ids.append(record.trace_id)
                span_ids.append(record.span_id)
                attributes.add(record.attributes)
    rejections = Rejections()
    if not services:
        return DecodedLogs(None, rejections)
    at = np.asarray(times, np.uint64)
    keep = np.ones(len(services), bool)

    def refuse(bad: np.ndarray, reason: str) -> None:
        rejections.add(reason, int((bad & keep).sum()))
        keep[bad] = False

    refuse(~id_lengths_ok(trace_ids, (0, 16)), "log records with a trace id that is neither empty nor 16 bytes")
    refuse(~id_lengths_ok(span_ids, (0, 8)), "log records with a span id that is neither empty nor 8 bytes")
    refuse(at < np.uint64(max(limits.earliest_ns, 0)), "log records from too long ago")
    refuse(at > np.uint64(limits.latest_ns), "log records from too far in the future")
    refuse(np.fromiter((len(s) > MAX_SERVICE_CHARS for s in services), bool, len(services)),
           f"log records whose service.name is longer than {MAX_SERVICE_CHARS} characters")
    if not keep.any():
        return DecodedLogs(None, rejections)
    mask = None if keep.all() else pa.array(keep)

    def column(values: pa.Array) -> pa.Array:
        return values if mask is None else values.filter(mask)

    number = np.clip(np.asarray(numbers, np.int64), 0, 255).astype(np.uint8)
    levels = np.asarray(LEVELS, dtype=object)[np.where((number >= 1) & (number <= 24), (number + 3) // 4, 0)]
    table = pa.table({
        "service": column(pa.array(services, pa.string())),
        "timestamp": column(pa.array(at.astype(np.int64)).cast(TIME_TYPE)),
        "severity_number": column(pa.array(number)),
        "severity": column(pa.array(levels.tolist(), pa.string())),
        "body": column(pa.array(bodies, pa.string())),
        "trace_id": column(hex_column(trace_ids)),
        "span_id": column(hex_column(span_ids)),
        "attributes": attributes.column(None if mask is None else keep),
    })
    return DecodedLogs(table, rejections)
