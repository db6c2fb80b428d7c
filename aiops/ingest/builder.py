"""Validating and assembling a :class:`PointBatch`, series by series, with numpy checks.

Every rule refuses the whole batch with a message naming the first offending series and
point, so a client can fix the right line. Repeated series in one batch are merged; a
point given twice (same series, same timestamp) is kept once when the values agree and
refuses the batch when they do not (a batch may not contradict itself).

Per series only names and labels are checked in Python; the points of the whole batch
are checked in a few numpy passes when the batch is built, so a batch of many small
series costs little more than one of a few large ones.

Values must be finite and at most :data:`MAX_ABS_VALUE` in magnitude: every aggregate
the engine computes over stored points (per-minute sums in the rollup, averages,
detectors' variances, which square values) then stays finite. No instrument reads 1e150;
a value that large is a bug or an attack, and ``inf`` in a sum would poison every figure
derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aiops.errors import BadRequest, Unprocessable
from aiops.ingest.batch import PointBatch, series_id
from aiops.settings import IngestSettings
from aiops.text import repeats

MAX_ID_CHARS = 256
MAX_LABELS = 64
MAX_LABEL_NAME_CHARS = 128
MAX_LABEL_VALUE_CHARS = 1024
# sqrt(float64 max / 1e8): squares of accepted values, summed over 10^8 points, stay finite.
MAX_ABS_VALUE = 1e150


@dataclass(frozen=True)
class BatchLimits:
    """What one batch may hold, checked before per-series or per-point work (413 past them)."""

    max_series: int
    max_points: int
    max_decompressed_bytes: int

    @classmethod
    def of(cls, ingest: IngestSettings | None = None, *, max_points: int | None = None) -> BatchLimits:
        """From the ``ingest`` settings (their defaults when None); ``max_points`` may lower the point limit."""
        ingest = ingest or IngestSettings()
        points = ingest.max_points_per_batch if max_points is None else min(max_points, ingest.max_points_per_batch)
        return cls(ingest.max_series_per_batch, points, ingest.max_decompressed_bytes)


def check_label_set(where: str, pairs: list[tuple[str, str]]) -> dict[str, str]:
    """A label set given as (name, value) pairs, in the order sent -> a dict.

    Malformed sets are refused with 400 naming the series and the label, as Prometheus'
    receiver does: an empty name, a name given twice. (The decoders have already refused
    text that is not text, with its field; sizes are checked by :meth:`BatchBuilder.add`,
    as 422.)"""
    labels = dict(pairs)
    if len(labels) != len(pairs):
        repeated = next(repeats(name for name, _ in pairs))
        raise BadRequest(f"{where}: label {repeated!r} appears more than once")
    if "" in labels:
        raise BadRequest(f"{where}: a label has an empty name")
    return labels


class BatchBuilder:
    def __init__(self, *, now_ms: int, max_past_seconds: int, max_future_seconds: int) -> None:
        self._earliest = now_ms - max_past_seconds * 1000
        self._latest = now_ms + max_future_seconds * 1000
        self._max_past_seconds = max_past_seconds
        self._max_future_seconds = max_future_seconds
        self._index: dict[int, int] = {}
        self._service_ids: list[str] = []
        self._metric_names: list[str] = []
        self._labels: list[dict[str, str]] = []
        self._ids: list[int] = []
        self._wheres: list[str] = []  # per chunk: how to name its series in errors
        self._chunks_position: list[int] = []  # per chunk: its series' position
        self._chunks_ts: list[np.ndarray] = []
        self._chunks_values: list[np.ndarray] = []

    def add(self, where: str, service_id: str, metric_name: str, labels: dict[str, str],
            timestamps_ms: np.ndarray, values: np.ndarray) -> None:
        """Check one series' names and labels and queue its points; ``where`` names it in errors."""
        service_id, metric_name = service_id.strip(), metric_name.strip()
        for field, text in (("service_id", service_id), ("metric_name", metric_name)):
            if not text:
                raise Unprocessable(f"{where}: {field} must not be empty")
            if len(text) > MAX_ID_CHARS:
                raise Unprocessable(f"{where}: {field} is longer than {MAX_ID_CHARS} characters")
        if len(labels) > MAX_LABELS:
            raise Unprocessable(f"{where}: more than {MAX_LABELS} labels")
        for name, value in labels.items():
            if not name:
                raise BadRequest(f"{where}: a label has an empty name")
            if len(name) > MAX_LABEL_NAME_CHARS:
                raise Unprocessable(f"{where}: label names must be 1 to {MAX_LABEL_NAME_CHARS} characters")
            if len(value) > MAX_LABEL_VALUE_CHARS:
                raise Unprocessable(f"{where}: label {name!r} is longer than {MAX_LABEL_VALUE_CHARS} characters")
        if values.size == 0:
            raise Unprocessable(f"{where}: points must not be empty")
        identity = series_id(service_id, metric_name, labels)
        position = self._index.get(identity)
        if position is None:
            position = self._index[identity] = len(self._ids)
            self._ids.append(identity)
            self._service_ids.append(service_id)
            self._metric_names.append(metric_name)
            self._labels.append(dict(labels))
        self._wheres.append(where)
        self._chunks_position.append(position)
        self._chunks_ts.append(timestamps_ms.astype(np.int64, copy=False))
        self._chunks_values.append(values.astype(np.float64, copy=False))

    def _point(self, chunk_starts: np.ndarray, flat: int) -> str:
        """``"series[3] (api/cpu) point[7]"`` for the point at ``flat`` in the concatenated arrays."""
        chunk = int(np.searchsorted(chunk_starts, flat, side="right")) - 1
        return f"{self._wheres[chunk]} point[{flat - int(chunk_starts[chunk])}]"

    def build(self) -> PointBatch:
        if not self._ids:
            raise Unprocessable("series: a batch needs at least one series with points")
        sizes = np.array([chunk.size for chunk in self._chunks_values], dtype=np.int64)
        index = np.repeat(np.array(self._chunks_position, dtype=np.int32), sizes)
        timestamps = np.concatenate(self._chunks_ts)
        values = np.concatenate(self._chunks_values)
        chunk_starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise Unprocessable(f"{self._point(chunk_starts, int(bad[0]))}: value must be a finite number")
        huge = np.flatnonzero(np.abs(values) > MAX_ABS_VALUE)
        if huge.size:
            raise Unprocessable(f"{self._point(chunk_starts, int(huge[0]))}: value {values[huge[0]]:g} is beyond "
                                f"±{MAX_ABS_VALUE:g}, the largest magnitude stored (so every sum stays finite)")
        outside = np.flatnonzero((timestamps < self._earliest) | (timestamps > self._latest))
        if outside.size:
            first = int(outside[0])
            when = "too old" if timestamps[first] < self._earliest else "too far in the future"
            raise Unprocessable(f"{self._point(chunk_starts, first)}: timestamp is {when} (accepted: from "
                                f"{self._max_past_seconds} s ago (ingest.max_past_seconds) to "
                                f"{self._max_future_seconds} s ahead (ingest.max_future_seconds))")
        keep = self._once_per_point(index, timestamps, values, chunk_starts)
        if keep is not None:
            index, timestamps, values = index[keep], timestamps[keep], values[keep]
        return PointBatch(
            service_ids=self._service_ids,
            metric_names=self._metric_names,
            labels=self._labels,
            series_ids=np.array(self._ids, dtype=np.uint64),
            series_index=index,
            timestamps_ms=timestamps,
            values=values,
        )

    def _once_per_point(self, index: np.ndarray, timestamps: np.ndarray, values: np.ndarray,
                        chunk_starts: np.ndarray) -> np.ndarray | None:
        """Positions to keep when a (series, timestamp) comes twice with the same value (None:
        no repeats); 422 when it comes with two values."""
        order = np.lexsort((timestamps, index))
        same = (index[order][1:] == index[order][:-1]) & (timestamps[order][1:] == timestamps[order][:-1])
        if not same.any():
            return None
        repeats = order[1:][same]  # each one's twin is just before it in `order`
        twins = order[:-1][same]
        differ = values[repeats] != values[twins]
        if differ.any():
            first = int(min(repeats[differ].min(), twins[differ].min()))
            raise Unprocessable(f"{self._point(chunk_starts, first)}: the batch gives this series two values at "
                                f"timestamp {int(timestamps[first])} ms")
        keep = np.ones(index.size, dtype=bool)
        keep[np.maximum(repeats, twins)] = False  # the first occurrence stays
        return np.flatnonzero(keep)
