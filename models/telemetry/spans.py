"""``SpanTable``: the spans of one window as plain parallel columns (OpenTelemetry's span fields).

One row per span. The offline cases' ``traces.csv`` and the live engine's stored spans
(OTLP ingestion) both become this type, so the RCA reads spans the same way offline and
live. Columns follow OTLP's ``Span`` message, flattened: ``service`` is the resource
attribute ``service.name``, ``operation`` the span name, ids are lower-case hex strings,
``parent_span_id`` is ``""`` for a root span. The optional ``status_code`` and ``kind`` use
OTLP's enum numbers (``STATUS_CODE_ERROR`` = 2; ``SPAN_KIND_SERVER`` = 2,
``SPAN_KIND_CLIENT`` = 3); when they are absent (as in Nezha's traces) the analyses infer
what they need from the call structure.

>>> spans = SpanTable.from_columns(
...     trace_id=["t1", "t1"], span_id=["a", "b"], parent_span_id=["", "a"],
...     service=["frontend", "cart"], operation=["GET /", "GetCart"],
...     start_unix_nano=[0, 1_000_000], end_unix_nano=[9_000_000, 4_000_000])
>>> len(spans), spans.services
(2, ['cart', 'frontend'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

STATUS_ERROR = 2  # OTLP Status.StatusCode STATUS_CODE_ERROR
KIND_SERVER = 2  # OTLP Span.SpanKind SPAN_KIND_SERVER
KIND_CLIENT = 3  # OTLP Span.SpanKind SPAN_KIND_CLIENT

_TEXT = ("trace_id", "span_id", "parent_span_id", "service", "operation")
_TIME = ("start_unix_nano", "end_unix_nano")
_CODES = ("status_code", "kind")


def text_column(values: Sequence | np.ndarray) -> np.ndarray:
    """An object array of ``str`` (missing values become ``""``)."""
    import pandas as pd  # here, not at the top: storage and every actor import these types, few build them

    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise ValueError("columns must be one-dimensional")
    missing = pd.isna(array)
    if missing.any():
        array = array.copy()
        array[missing] = ""
    return array.astype(str).astype(object)


@dataclass(frozen=True, eq=False)
class SpanTable:
    trace_id: np.ndarray  # (N,) str
    span_id: np.ndarray  # (N,) str; unique within its trace
    parent_span_id: np.ndarray  # (N,) str; "" for a root span
    service: np.ndarray  # (N,) str, resource attribute service.name
    operation: np.ndarray  # (N,) str, the span name
    start_unix_nano: np.ndarray  # (N,) int64
    end_unix_nano: np.ndarray  # (N,) int64
    status_code: np.ndarray | None = None  # (N,) int8, OTLP StatusCode (0 unset, 1 ok, 2 error)
    kind: np.ndarray | None = None  # (N,) int8, OTLP SpanKind (0 unspecified ... 2 server, 3 client ...)

    def __post_init__(self) -> None:
        n = len(self.trace_id)
        for f in fields(self):
            column = getattr(self, f.name)
            if column is not None and len(column) != n:
                raise ValueError(f"span column {f.name} has {len(column)} rows, trace_id has {n}")

    @classmethod
    def from_columns(cls, *, trace_id, span_id, parent_span_id, service, operation, start_unix_nano,
                     end_unix_nano, status_code=None, kind=None) -> SpanTable:
        """Build from any sequences (lists, numpy, pandas or pyarrow arrays), converting types."""
        given = dict(trace_id=trace_id, span_id=span_id, parent_span_id=parent_span_id, service=service,
                     operation=operation)
        columns: dict[str, Any] = {name: text_column(given[name]) for name in _TEXT}  # SpanTable's fields
        for name, values in (("start_unix_nano", start_unix_nano), ("end_unix_nano", end_unix_nano)):
            columns[name] = np.asarray(values, dtype=np.int64)
        for name, values in (("status_code", status_code), ("kind", kind)):
            columns[name] = None if values is None else np.asarray(values, dtype=np.int8)
        return cls(**columns)

    @classmethod
    def empty(cls) -> SpanTable:
        return cls.from_columns(trace_id=[], span_id=[], parent_span_id=[], service=[], operation=[],
                                start_unix_nano=[], end_unix_nano=[])

    def __len__(self) -> int:
        return len(self.trace_id)

    @property
    def services(self) -> list[str]:
        return sorted(set(self.service.tolist()))

    def take(self, rows: np.ndarray) -> SpanTable:
        """The rows selected by a boolean mask or an index array, in that order."""
        columns: dict[str, Any] = {f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[rows]
                                   for f in fields(self)}
        return SpanTable(**columns)

    def between(self, since_unix_nano: int, until_unix_nano: int) -> SpanTable:
        """Spans that start in ``[since, until)``."""
        return self.take((self.start_unix_nano >= since_unix_nano) & (self.start_unix_nano < until_unix_nano))
