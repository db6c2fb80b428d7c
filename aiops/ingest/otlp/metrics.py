"""``ExportMetricsServiceRequest`` -> a :class:`~aiops.ingest.batch.PointBatch` of ordinary series.

``service_id`` is the resource's ``service.name``; the data point's attributes are the
series' labels (bounded as span attributes are; empty keys dropped). By type:

- Gauge and Sum: one series named as the metric. Points are kept as sent: a cumulative
  monotonic sum is a counter (as Prometheus keeps one), a delta sum is the increase over
  its interval.
- Histogram and ExponentialHistogram: ``<name>_count``, ``<name>_sum`` (when the point has
  a sum) and ``<name>`` with a ``quantile`` label of ``0.5``, ``0.95`` and ``0.99``, derived
  from the point's own buckets by linear interpolation inside the bucket holding the rank
  (Prometheus' ``histogram_quantile`` method; the open-ended buckets are closed by the
  point's min/max when sent, else by the nearest finite bound or zero).
- Summary: ``<name>_count``, ``<name>_sum`` and ``<name>{quantile=q}`` for each quantile sent.

Points flagged "no recorded value" are skipped, as remote_write's staleness markers are.
A point is refused on its own (counted for ``partial_success``) when its value is not
finite, its time is unset or outside the accepted range, or its metric's name is empty or
too long; a resource whose ``service.name`` is too long has all its points refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from aiops.ingest.batch import PointBatch
from aiops.ingest.builder import MAX_ID_CHARS, BatchBuilder
from aiops.ingest.otlp.common import MAX_SERVICE_CHARS, OtlpLimits, Rejections, service_of, value_text

QUANTILES = (0.5, 0.95, 0.99)
NO_RECORDED_VALUE = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK


@dataclass
class DecodedMetrics:
    batch: PointBatch | None  # None when no point was accepted
    rejections: Rejections
    skipped: int  # points flagged "no recorded value"


def bucket_quantile(q: float, lower: np.ndarray, upper: np.ndarray, counts: np.ndarray) -> float:
    """The ``q`` quantile of a histogram given each bucket's bounds and count (buckets in order)."""
    total = counts.sum()
    if total <= 0:
        return float("nan")
    cumulative = np.cumsum(counts)
    rank = q * total
    index = int(np.searchsorted(cumulative, rank, side="left"))
    index = min(index, len(counts) - 1)
    before = cumulative[index - 1] if index > 0 else 0.0
    inside = counts[index]
    fraction = (rank - before) / inside if inside > 0 else 1.0
    return float(lower[index] + (upper[index] - lower[index]) * fraction)


def explicit_bounds(point) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, counts) of a HistogramDataPoint's buckets, open ends closed."""
    counts = np.asarray(point.bucket_counts, np.float64)
    bounds = np.asarray(point.explicit_bounds, np.float64)
    if counts.size != bounds.size + 1:
        raise ValueError("bucket_counts must have one more entry than explicit_bounds")
    low_end = point.min if point.HasField("min") else min(0.0, bounds[0]) if bounds.size else 0.0
    high_end = point.max if point.HasField("max") else bounds[-1] if bounds.size else 0.0
    lower = np.concatenate(([low_end], bounds))
    upper = np.concatenate((bounds, [max(high_end, bounds[-1]) if bounds.size else high_end]))
    return lower, upper, counts


def exponential_bounds(point) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, counts) of an ExponentialHistogramDataPoint: bucket i covers (base^i, base^(i+1)]."""
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
    return tuple(sorted(dict(labels, quantile=repr(q)).items()))


class _Series:
    """Points gathered per (service, metric, labels) before the batch is built."""

    def __init__(self) -> None:
        self.points: dict[tuple, tuple[list[int], list[float]]] = {}

    def add(self, service: str, name: str, labels: tuple, time_ns: int, value: float) -> None:
        times, values = self.points.setdefault((service, name, labels), ([], []))
        times.append(time_ns // 1_000_000)
        values.append(value)


def decode_metrics(request: ExportMetricsServiceRequest, limits: OtlpLimits, builder: BatchBuilder) -> DecodedMetrics:
    """Every data point of ``request`` as points of ordinary series (see the module doc)."""
    rejections = Rejections()
    series = _Series()
    skipped = 0
    earliest, latest = max(limits.earliest_ns, 1), limits.latest_ns

    def labels_of(attributes) -> tuple:
        labels = {}
        for kv in attributes:
            if len(labels) == limits.max_attributes:
                break
            if kv.key:
                labels[kv.key[:limits.max_attribute_key_chars]] = value_text(kv.value,
                                                                            limits.max_attribute_value_chars)
        return tuple(sorted(labels.items()))

    def record(service: str, name: str, labels: tuple, time_ns: int, value: float) -> None:
        if not np.isfinite(value):
            rejections.add("data points whose value is not a finite number")
        else:
            series.add(service, name, labels, time_ns, float(value))

    for resource_metrics in request.resource_metrics:
        service = service_of(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                points = getattr(metric, kind).data_points if kind else ()
                name = metric.name.strip()
                if len(service) > MAX_SERVICE_CHARS:
                    rejections.add(f"data points whose service.name is longer than {MAX_SERVICE_CHARS} characters",
                                   len(points))
                    continue
                if not name or len(name) + len("_count") > MAX_ID_CHARS:
                    rejections.add(f"data points of a metric whose name is empty or over {MAX_ID_CHARS - 6} "
                                   "characters", len(points))
                    continue
                for point in points:
                    if point.flags & NO_RECORDED_VALUE:
                        skipped += 1
                        continue
                    at = point.time_unix_nano
                    if not earliest <= at <= latest:
                        rejections.add("data points whose time is unset or outside the accepted range")
                        continue
                    labels = labels_of(point.attributes)
                    if kind in ("gauge", "sum"):
                        value = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
                        record(service, name, labels, at, value)
                        continue
                    record(service, f"{name}_count", labels, at, float(point.count))
                    if kind == "summary" or point.HasField("sum"):
                        record(service, f"{name}_sum", labels, at, point.sum)
                    if kind == "summary":
                        for quantile in point.quantile_values:
                            record(service, name, with_quantile(labels, quantile.quantile), at, quantile.value)
                        continue
                    if point.count == 0:
                        continue
                    try:
                        lower, upper, counts = (explicit_bounds(point) if kind == "histogram"
                                                else exponential_bounds(point))
                    except ValueError as error:
                        rejections.add(f"histogram data points with malformed buckets ({error})")
                        continue
                    for q in QUANTILES:
                        record(service, name, with_quantile(labels, q), at, bucket_quantile(q, lower, upper, counts))
    for (service, name, labels), (times, values) in series.points.items():
        builder.add(f"metric {name!r} of {service!r}", service, name, dict(labels), np.asarray(times, np.int64),
                    np.asarray(values, np.float64))
    batch = builder.build() if series.points else None
    return DecodedMetrics(batch, rejections, skipped)
