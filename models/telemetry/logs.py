"""``LogTable``: the log records of one window as plain parallel columns (OpenTelemetry's log fields).

One row per record. The offline cases' ``logs.csv`` and the live engine's stored log
records (OTLP ingestion) both become this type. ``service`` is the resource attribute
``service.name``; ``trace_id`` / ``span_id`` tie a record to the span it was written in
(``""`` when it was written outside any trace); ``severity`` is OTLP's ``severity_text``
or, when that is empty, the name of its ``severity_number`` range (:func:`severity_name`);
``body`` is the record's text.

>>> logs = LogTable.from_columns(timestamp_unix_nano=[5], service=["cart"], trace_id=["t1"],
...                              span_id=["b"], severity=["error"], body=["Redis timeout"])
>>> logs.severity.tolist(), int(logs.is_problem().sum()), int(logs.is_error().sum())
(['ERROR'], 1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from models.telemetry.spans import text_column

# OTLP SeverityNumber ranges (1-4 TRACE ... 21-24 FATAL) and their names.
_SEVERITY_RANGES = ((1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL"))
# Spellings of an error level (errors and worse) and of one that needs attention (warnings too), upper-cased.
ERROR_SEVERITIES = frozenset({"ERROR", "ERR", "SEVERE", "CRITICAL", "CRIT", "FATAL", "ALERT", "EMERGENCY", "EMERG",
                              "PANIC"})
PROBLEM_SEVERITIES = ERROR_SEVERITIES | {"WARN", "WARNING"}


def severity_name(number: int) -> str:
    """The name of an OTLP ``SeverityNumber`` (1-24); ``""`` for 0 (unspecified) or out of range."""
    if not 1 <= number <= 24:
        return ""
    return [name for low, name in _SEVERITY_RANGES if number >= low][-1]


@dataclass(frozen=True, eq=False)
class LogTable:
    timestamp_unix_nano: np.ndarray  # (N,) int64
    service: np.ndarray  # (N,) str
    trace_id: np.ndarray  # (N,) str, "" outside a trace
    span_id: np.ndarray  # (N,) str, "" outside a span
    severity: np.ndarray  # (N,) str, upper case ("" when unknown)
    body: np.ndarray  # (N,) str

    def __post_init__(self) -> None:
        n = len(self.timestamp_unix_nano)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(f"log column {f.name} has {len(getattr(self, f.name))} rows, expected {n}")

    @classmethod
    def from_columns(cls, *, timestamp_unix_nano, service, trace_id, span_id, severity, body) -> LogTable:
        """Build from any sequences, converting types; severity is upper-cased."""
        return cls(np.asarray(timestamp_unix_nano, dtype=np.int64), text_column(service), text_column(trace_id),
                   text_column(span_id), np.char.upper(text_column(severity).astype(str)).astype(object),
                   text_column(body))

    @classmethod
    def empty(cls) -> LogTable:
        return cls.from_columns(timestamp_unix_nano=[], service=[], trace_id=[], span_id=[], severity=[], body=[])

    def __len__(self) -> int:
        return len(self.timestamp_unix_nano)

    def is_problem(self) -> np.ndarray:
        """(N,) bool: the record's severity is a warning or worse."""
        return np.isin(self.severity, list(PROBLEM_SEVERITIES))

    def is_error(self) -> np.ndarray:
        """(N,) bool: the record's severity is an error or worse (OTLP ``SeverityNumber`` >= 17)."""
        return np.isin(self.severity, list(ERROR_SEVERITIES))

    def take(self, rows: np.ndarray) -> LogTable:
        return LogTable(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def between(self, since_unix_nano: int, until_unix_nano: int) -> LogTable:
        """Records written in ``[since, until)``."""
        at = self.timestamp_unix_nano
        return self.take((at >= since_unix_nano) & (at < until_unix_nano))
