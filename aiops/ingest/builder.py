"""Validating and assembling a :class:`PointBatch`, series by series, with numpy checks.

Every rule refuses the whole batch with a message naming the first offending series and
point, so a client can fix the right line. Repeated series in one batch are merged.
"""

from __future__ import annotations

import numpy as np

from aiops.errors import Unprocessable
from aiops.ingest.batch import PointBatch, series_id

MAX_ID_CHARS = 256
MAX_LABELS = 64
MAX_LABEL_NAME_CHARS = 128
MAX_LABEL_VALUE_CHARS = 1024


class BatchBuilder:
    def __init__(self, *, now_ms: int, max_past_seconds: int, max_future_seconds: int) -> None:
        self._earliest = now_ms - max_past_seconds * 1000
        self._latest = now_ms + max_future_seconds * 1000
        self._index: dict[int, int] = {}
        self._service_ids: list[str] = []
        self._metric_names: list[str] = []
        self._labels: list[dict[str, str]] = []
        self._ids: list[int] = []
        self._chunks_index: list[np.ndarray] = []
        self._chunks_ts: list[np.ndarray] = []
        self._chunks_values: list[np.ndarray] = []

    def add(self, where: str, service_id: str, metric_name: str, labels: dict[str, str],
            timestamps_ms: np.ndarray, values: np.ndarray) -> None:
        """Check one series and its points; ``where`` names it in error messages."""
        service_id, metric_name = service_id.strip(), metric_name.strip()
        for field, text in (("service_id", service_id), ("metric_name", metric_name)):
            if not text:
                raise Unprocessable(f"{where}: {field} must not be empty")
            if len(text) > MAX_ID_CHARS:
                raise Unprocessable(f"{where}: {field} is longer than {MAX_ID_CHARS} characters")
        if len(labels) > MAX_LABELS:
            raise Unprocessable(f"{where}: more than {MAX_LABELS} labels")
        for name, value in labels.items():
            if not name or len(name) > MAX_LABEL_NAME_CHARS:
                raise Unprocessable(f"{where}: label names must be 1 to {MAX_LABEL_NAME_CHARS} characters")
            if len(value) > MAX_LABEL_VALUE_CHARS:
                raise Unprocessable(f"{where}: label {name!r} is longer than {MAX_LABEL_VALUE_CHARS} characters")
        if values.size == 0:
            raise Unprocessable(f"{where}: points must not be empty")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise Unprocessable(f"{where} point[{bad[0]}]: value must be a finite number")
        outside = np.flatnonzero((timestamps_ms < self._earliest) | (timestamps_ms > self._latest))
        if outside.size:
            first = int(outside[0])
            when = "too old" if timestamps_ms[first] < self._earliest else "too far in the future"
            raise Unprocessable(f"{where} point[{first}]: timestamp is {when} (accepted: the last "
                                f"{(self._latest - self._earliest) // 1000} seconds up to a little ahead)")
        identity = series_id(service_id, metric_name, labels)
        position = self._index.get(identity)
        if position is None:
            position = self._index[identity] = len(self._ids)
            self._ids.append(identity)
            self._service_ids.append(service_id)
            self._metric_names.append(metric_name)
            self._labels.append(dict(labels))
        self._chunks_index.append(np.full(values.size, position, np.int32))
        self._chunks_ts.append(timestamps_ms.astype(np.int64, copy=False))
        self._chunks_values.append(values.astype(np.float64, copy=False))

    def build(self) -> PointBatch:
        if not self._ids:
            raise Unprocessable("series: a batch needs at least one series with points")
        return PointBatch(
            service_ids=self._service_ids,
            metric_names=self._metric_names,
            labels=self._labels,
            series_ids=np.array(self._ids, dtype=np.uint64),
            series_index=np.concatenate(self._chunks_index),
            timestamps_ms=np.concatenate(self._chunks_ts),
            values=np.concatenate(self._chunks_values),
        )
