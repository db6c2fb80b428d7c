"""``ExportMetricsServiceRequest`` -> a :class:`~aiops.ingest.batch.PointBatch` of ordinary series.

``service_id`` is the resource's ``service.name``; the data point's attributes are the
series' labels. By type:

- Gauge and Sum: one series named as the metric. Points are kept as sent: a cumulative
  monotonic sum is a counter (as Prometheus keeps one), a delta sum is the increase over
  its interval.
- Histogram and ExponentialHistogram: ``<name>_count``, ``<name>_sum`` (when the point has
  a sum) and ``<name>`` with a ``quantile`` label of ``0.5``, ``0.95`` and ``0.99``, derived
  from the point's own buckets by linear interpolation inside the bucket holding the rank
  (Prometheus' ``histogram_quantile`` method; the open-ended buckets are closed by the
  point's min/max when sent, else by the nearest finite bound or zero).
- Summary: ``<name>_count``, ``<name>_sum`` and ``<name>{quantile=q}`` for each quantile sent.

Validated as the engine's other ingestion paths validate (:mod:`aiops.ingest.builder`):

- Work is bounded before it is done: the data points (at most ``limits.max_items``), then
  the points they become (a histogram point makes up to five; ``BatchLimits.max_points``)
  are counted before any per-point work, and the series as they appear
  (``BatchLimits.max_series``): 413 past any of them.
- A point's attributes are its series' label set, so a malformed one (an empty key, a key
  given twice) refuses the request with 400 naming the metric, the point and the key
  (:func:`~aiops.ingest.builder.check_label_set`, as remote_write's label sets). Text that
  is not text never gets here: the protobuf runtime and the strict JSON reader refuse it
  (400).
- A point is refused on its own (counted in ``partial_success`` by reason) when storing it
  would silently make it something else, or is impossible: more than ``max_attributes``
  attributes, or a key or value longer than ``max_attribute_key_chars`` /
  ``max_attribute_value_chars`` (cutting them would merge series; spans and log records
  keep the first attributes and cut long ones instead, since theirs name nothing); a
  histogram or summary point with its own ``quantile`` attribute (the label its quantile
  series carry); any value it yields that is not finite or beyond ±1e150
  (:data:`~aiops.ingest.builder.MAX_ABS_VALUE`); a time unset or outside the accepted
  range; a second value for a series at the same millisecond (storage keeps milliseconds:
  the first sent stays; an identical repeat is simply kept once); a metric whose name is
  empty or too long; a resource whose ``service.name`` is too long.
- Points flagged "no recorded value" are skipped (as remote_write's staleness markers) and
  reported in ``partial_success``' message without counting as refused.

Storage then keeps the first value of every point (:mod:`aiops.storage.first_write`); how
the OTLP receiver reports a point that would change a stored one is in
:mod:`deployments.routers.otlp`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from aiops.errors import PayloadTooLarge
from aiops.ingest.batch import PointBatch
from aiops.ingest.builder import MAX_ABS_VALUE, MAX_ID_CHARS, MAX_LABELS, BatchBuilder, BatchLimits, check_label_set
from aiops.ingest.otlp.common import (
    MAX_SERVICE_CHARS,
    OtlpLimits,
    Rejections,
    check_items,
    service_of,
    value_text,
)

QUANTILES = (0.5, 0.95, 0.99)
_QUANTILES = np.array(QUANTILES)
NO_RECORDED_VALUE = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK


@dataclass
class DecodedMetrics:
    batch: PointBatch | None  # None when no point was accepted
    rejections: Rejections
    skipped: int  # points flagged "no recorded value"


def bucket_quantiles(qs: np.ndarray, lower: np.ndarray, upper: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The ``qs`` quantiles of a histogram given each bucket's bounds and count (buckets in order;
    NaN when it counts nothing)."""
    total = counts.sum()
    if total <= 0:
        return np.full(len(qs), np.nan)
    cumulative = np.cumsum(counts)
    ranks = np.asarray(qs, np.float64) * total
    index = np.minimum(np.searchsorted(cumulative, ranks, side="left"), len(counts) - 1)
    before = np.where(index > 0, cumulative[index - 1], 0.0)
    inside = counts[index]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(inside > 0, (ranks - before) / np.where(inside > 0, inside, 1.0), 1.0)
    return lower[index] + (upper[index] - lower[index]) * fraction


def bucket_quantile(q: float, lower: np.ndarray, upper: np.ndarray, counts: np.ndarray) -> float:
    """The ``q`` quantile of a histogram given each bucket's bounds and count (buckets in order)."""
    return float(bucket_quantiles(np.array([q]), lower, upper, counts)[0])


def _explicit_edges(point) -> tuple[list[float], list[float], list[float]]:
    counts = [float(count) for count in point.bucket_counts]
    bounds = list(point.explicit_bounds)
    if len(counts) != len(bounds) + 1:
        raise ValueError("bucket_counts must have one more entry than explicit_bounds")
    low_end = point.min if point.HasField("min") else min(0.0, bounds[0]) if bounds else 0.0
    high_end = point.max if point.HasField("max") else bounds[-1] if bounds else 0.0
    return [low_end, *bounds], [*bounds, max(high_end, bounds[-1]) if bounds else high_end], counts


def explicit_bounds(point) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, counts) of a HistogramDataPoint's buckets, open ends closed."""
    lower, upper, counts = _explicit_edges(point)
    return np.asarray(lower, np.float64), np.asarray(upper, np.float64), np.asarray(counts, np.float64)


SMALL_HISTOGRAM = 64  # buckets; up to this many, plain Python beats numpy's cost per call


def small_bucket_quantiles(qs, lower: list[float], upper: list[float], counts: list[float]) -> list[float]:
    """:func:`bucket_quantiles` in plain Python, for the usual handful of buckets."""
    total = sum(counts)
    if total <= 0:
        return [math.nan] * len(qs)
    cumulative = list(accumulate(counts))
    last = len(counts) - 1
    out = []
    for q in qs:
        rank = q * total
        index = min(bisect_left(cumulative, rank), last)
        before = cumulative[index - 1] if index else 0.0
        inside = counts[index]
        fraction = (rank - before) / inside if inside > 0 else 1.0
        out.append(lower[index] + (upper[index] - lower[index]) * fraction)
    return out


def exponential_bounds(point) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, counts) of an ExponentialHistogramDataPoint: bucket i covers (base^i, base^(i+1)].
    ValueError for a scale outside OTLP's [-10, 20] (beyond it the base itself overflows)."""
    if not -10 <= point.scale <= 20:
        raise ValueError(f"scale {point.scale} is outside -10..20")
    base = 2.0 ** (2.0 ** -point.scale)
    positive = np.asarray(point.positive.bucket_counts, np.float64)
    negative = np.asarray(point.negative.bucket_counts, np.float64)
    pos_index = point.positive.offset + np.arange(positive.size)
    neg_index = point.negative.offset + np.arange(negative.size)
    with np.errstate(over="ignore"):
        pos_lower, pos_upper = base ** pos_index, base ** (pos_index + 1)
        neg_lower, neg_upper = -(base ** (neg_index + 1)), -(base ** neg_index)
    order = np.argsort(neg_lower)  # most negative first
    zero = point.zero_threshold
    lower = np.concatenate((neg_lower[order], [-zero], pos_lower))
    upper = np.concatenate((neg_upper[order], [zero], pos_upper))
    counts = np.concatenate((negative[order], [float(point.zero_count)], positive))
    return lower, upper, counts


def with_quantile(labels: tuple, q: float) -> tuple:
    """Sorted label pairs plus ``quantile`` (which the caller made sure they do not have)."""
    return tuple(sorted((*labels, ("quantile", repr(q)))))


class _Series:
    """Points gathered per (service, metric, labels) before the batch is built; at most ``max_series``."""

    def __init__(self, max_series: int) -> None:
        self.points: dict[tuple, tuple[list[int], list[float]]] = {}
        self._max_series = max_series

    def add(self, service: str, name: str, labels: tuple, time_ms: int, value: float) -> None:
        key = (service, name, labels)
        gathered = self.points.get(key)
        if gathered is None:
            if len(self.points) == self._max_series:
                raise PayloadTooLarge(f"the request's data points make more than {self._max_series} series; "
                                      "export smaller batches")
            gathered = self.points[key] = ([], [])
        gathered[0].append(time_ms)
        gathered[1].append(value)


QUANTILE_KINDS = ("histogram", "exponential_histogram", "summary")


def points_made(kind: str, points) -> int:
    """How many points a metric's data points become (an upper bound for histograms, whose sum is optional)."""
    if kind == "summary":
        return sum(2 + len(point.quantile_values) for point in points)
    if kind in QUANTILE_KINDS:
        return len(points) * (2 + len(QUANTILES))
    return len(points)


def _metrics(request: ExportMetricsServiceRequest):
    """``(position, service, metric, kind, data points)`` for every metric with data."""
    for r, resource_metrics in enumerate(request.resource_metrics):
        service = service_of(resource_metrics.resource.attributes)
        for s, scope_metrics in enumerate(resource_metrics.scope_metrics):
            for m, metric in enumerate(scope_metrics.metrics):
                kind = metric.WhichOneof("data")
                if kind:
                    yield (f"resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}]", service, metric, kind,
                           getattr(metric, kind).data_points)


def _values(kind: str, name: str, labels: tuple, point) -> list[tuple[str, tuple, float]] | str:
    """The (metric name, labels, value) points a data point becomes, or why it is refused."""
    if kind in ("gauge", "sum"):
        return [(name, labels, point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int))]
    made = [(f"{name}_count", labels, float(point.count))]
    if kind == "summary" or point.HasField("sum"):
        made.append((f"{name}_sum", labels, point.sum))
    if kind == "summary":
        return made + [(name, with_quantile(labels, q.quantile), q.value) for q in point.quantile_values]
    if point.count == 0:
        return made
    try:
        if kind == "histogram" and len(point.bucket_counts) <= SMALL_HISTOGRAM:
            quantiles = small_bucket_quantiles(QUANTILES, *_explicit_edges(point))
        else:
            lower, upper, counts = explicit_bounds(point) if kind == "histogram" else exponential_bounds(point)
            quantiles = bucket_quantiles(_QUANTILES, lower, upper, counts).tolist()
    except ValueError as error:
        return f"histogram data points with malformed buckets ({error})"
    return made + [(name, with_quantile(labels, q), value) for q, value in zip(QUANTILES, quantiles, strict=True)]


def decode_metrics(request: ExportMetricsServiceRequest, limits: OtlpLimits, builder: BatchBuilder,
                   batch_limits: BatchLimits | None = None) -> DecodedMetrics:
    """Every data point of ``request`` as points of ordinary series (see the module doc);
    ``batch_limits`` defaults to the ``ingest`` settings' defaults."""
    batch_limits = batch_limits or BatchLimits.of()
    metrics = list(_metrics(request))
    check_items(sum(len(points) for *_, points in metrics), limits.max_items, "data points")
    made = sum(points_made(kind, points) for _, _, _, kind, points in metrics)
    if made > batch_limits.max_points:
        raise PayloadTooLarge(f"the request's data points make {made} points; at most {batch_limits.max_points}: "
                              "export smaller batches")
    rejections = Rejections()
    series = _Series(batch_limits.max_series)
    skipped = 0
    earliest, latest = max(limits.earliest_ns, 1), limits.latest_ns
    most = min(limits.max_attributes, MAX_LABELS - 1)  # a quantile series adds one label
    key_chars, value_chars = limits.max_attribute_key_chars, limits.max_attribute_value_chars

    def labels_of(where: str, kind: str, attributes) -> tuple | str:
        """The point's label set, or why the point is refused (400 when it is malformed)."""
        if len(attributes) > most:
            return f"data points with more than {most} attributes (they name the series; none is dropped)"
        # Strings are the common case: no call for them.
        pairs = [(kv.key, kv.value.string_value if kv.value.WhichOneof("value") == "string_value"
                  else value_text(kv.value, value_chars + 1)) for kv in attributes]
        labels = check_label_set(where, pairs)
        if max(map(len, labels), default=0) > key_chars:
            return f"data points with an attribute key over {key_chars} characters"
        if max(map(len, labels.values()), default=0) > value_chars:
            return f"data points with an attribute value over {value_chars} characters"
        if kind in QUANTILE_KINDS and "quantile" in labels:
            return "histogram or summary data points with their own 'quantile' attribute (their quantile series' label)"
        return tuple(sorted(labels.items()))

    for where, service, metric, kind, points in metrics:
        name = metric.name.strip()
        if len(service) > MAX_SERVICE_CHARS:
            rejections.add(f"data points whose service.name is longer than {MAX_SERVICE_CHARS} characters", len(points))
            continue
        if not name or len(name) + len("_count") > MAX_ID_CHARS:
            rejections.add(f"data points of a metric whose name is empty or over {MAX_ID_CHARS - 6} characters",
                           len(points))
            continue
        for index, point in enumerate(points):
            if point.flags & NO_RECORDED_VALUE:
                skipped += 1
                continue
            at = point.time_unix_nano
            if not earliest <= at <= latest:
                rejections.add("data points whose time is unset or outside the accepted range")
                continue
            labels = labels_of(f"{where} ({name!r} of {service!r}) dataPoints[{index}]", kind, point.attributes)
            if isinstance(labels, str):
                rejections.add(labels)
                continue
            values = _values(kind, name, labels, point)
            if isinstance(values, str):
                rejections.add(values)
                continue
            if not all(math.isfinite(value) for _, _, value in values):
                rejections.add("data points with a value that is not a finite number")
                continue
            if any(abs(value) > MAX_ABS_VALUE for _, _, value in values):
                rejections.add(f"data points with a value beyond ±{MAX_ABS_VALUE:g} (so every sum stays finite)")
                continue
            for series_name, series_labels, value in values:
                series.add(service, series_name, series_labels, at // 1_000_000, float(value))
    added = False
    for (service, name, labels), (times, points_values) in series.points.items():
        stamps, numbers = np.asarray(times, np.int64), np.asarray(points_values, np.float64)
        keep = _first_per_millisecond(stamps, numbers, rejections)
        builder.add(f"metric {name!r} of {service!r}", service, name, dict(labels), stamps[keep], numbers[keep])
        added = True
    return DecodedMetrics(builder.build() if added else None, rejections, skipped)


def _first_per_millisecond(stamps: np.ndarray, values: np.ndarray, rejections: Rejections) -> np.ndarray:
    """Positions to keep of one series' points: the first sent at each millisecond; a later one with
    another value is refused (counted), an identical one dropped quietly."""
    order = np.argsort(stamps, kind="stable")
    repeat = np.zeros(stamps.size, dtype=bool)
    repeat[1:] = stamps[order][1:] == stamps[order][:-1]
    if not repeat.any():
        return np.ones(stamps.size, dtype=bool)
    first = np.maximum.accumulate(np.where(repeat, 0, np.arange(stamps.size)))  # each run's first, in `order`
    differs = repeat & (values[order] != values[order][first])
    rejections.add("data points giving a series a second value at the same millisecond", int(differs.sum()))
    keep = np.ones(stamps.size, dtype=bool)
    keep[order[repeat]] = False
    return keep
