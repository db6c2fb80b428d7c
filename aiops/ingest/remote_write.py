"""Prometheus remote_write 1.0: a snappy-compressed protobuf ``prometheus.WriteRequest``.

The message types are declared here as a protobuf descriptor (the subset of Prometheus's
``types.proto`` / ``remote.proto`` this engine reads), and decoded by the protobuf
runtime; snappy block decompression is bounded (:mod:`aiops.ingest.decompress`).

Negotiation (Remote-Write 2.0 spec, "backward compatibility"): a 1.0 body is
``application/x-protobuf`` with no ``proto`` parameter or ``proto=prometheus.WriteRequest``;
anything else, notably 2.0's ``proto=io.prometheus.write.v2.Request``, is answered 415 so
the sender falls back to 1.0.

Work is bounded before it is done: the decompressed size (claimed, then actual), then the
number of series and of samples (counted per series without touching one) against the
batch limits, 413 past any of them.

``service_id`` is the first present label of ``service_id``, ``service``, ``job``;
``metric_name`` is ``__name__``; other labels are kept. A malformed label set (no
``__name__``, an empty or repeated name, text that is not UTF-8) refuses the batch with
400 naming the series and label, as Prometheus' own receiver does. Nothing a sender sends
vanishes silently: samples that cannot be stored are skipped and counted by reason
(:data:`SKIP_REASONS`), in the answer and in ``aiops_ingest_skipped_samples_total``,
rather than refusing the batch, since Prometheus drops a refused batch whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import cramjam
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from aiops.errors import BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from aiops.ingest.batch import PointBatch
from aiops.ingest.builder import MAX_ABS_VALUE, BatchBuilder, BatchLimits, check_label_set
from aiops.ingest.decompress import decompress

SERVICE_LABELS = ("service_id", "service", "job")
MEDIA_TYPE = "application/x-protobuf"
V1_MESSAGE = "prometheus.WriteRequest"
SKIP_REASONS = {
    "non_finite": "NaN (Prometheus' staleness marker) or infinite values",
    "out_of_range": f"values beyond ±{MAX_ABS_VALUE:g}",
    "native_histogram": "native histogram samples (not stored by this engine)",
    "exemplar": "exemplars (not stored by this engine)",
}

_F = descriptor_pb2.FieldDescriptorProto


def _message(file: descriptor_pb2.FileDescriptorProto, name: str, fields: list[tuple]) -> None:
    message = file.message_type.add(name=name)
    for field_name, number, kind, type_name in fields:
        repeated = type_name is not None
        item = message.field.add(name=field_name, number=number, type=kind, json_name=field_name)
        item.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
        if type_name:
            item.type_name = type_name


@cache
def write_request_class() -> type:
    """The ``prometheus.WriteRequest`` message class, built once from its descriptor.

    Label names and values are read as bytes, so text that is not UTF-8 can be named rather
    than failing the whole parse; exemplars and native histograms as opaque bytes, only to
    be counted."""
    file = descriptor_pb2.FileDescriptorProto(name="aiops/prometheus_remote.proto", package="prometheus",
                                              syntax="proto3")
    _message(file, "Label", [("name", 1, _F.TYPE_BYTES, None), ("value", 2, _F.TYPE_BYTES, None)])
    _message(file, "Sample", [("value", 1, _F.TYPE_DOUBLE, None), ("timestamp", 2, _F.TYPE_INT64, None)])
    _message(file, "TimeSeries", [("labels", 1, _F.TYPE_MESSAGE, ".prometheus.Label"),
                                  ("samples", 2, _F.TYPE_MESSAGE, ".prometheus.Sample"),
                                  ("exemplars", 3, _F.TYPE_BYTES, ""),
                                  ("histograms", 4, _F.TYPE_BYTES, "")])
    _message(file, "WriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, ".prometheus.TimeSeries")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


@dataclass
class RemoteWriteResult:
    batch: PointBatch | None  # None when every sample was skipped
    skipped: dict[str, int] = field(default_factory=dict)  # reason (SKIP_REASONS) -> samples


def check_content_type(header: str | None) -> None:
    """415 unless the ``Content-Type`` names a remote_write 1.0 body (see the module docstring)."""
    media, *parameters = (header or MEDIA_TYPE).split(";")
    if media.strip().lower() != MEDIA_TYPE:
        raise UnsupportedMediaType(f"Content-Type must be {MEDIA_TYPE}, not {media.strip() or 'missing'}")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "proto" and value.strip().strip('"') != V1_MESSAGE:
            raise UnsupportedMediaType(f"this endpoint takes Remote-Write 1.0 ({MEDIA_TYPE};proto={V1_MESSAGE}), "
                                       f"not proto={value.strip()}; send 1.0")


def encode_write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    """Labels and ``(timestamp_ms, value)`` samples -> a snappy-compressed WriteRequest (for tests, bench)."""
    request = write_request_class()()
    for labels, samples in series:
        timeseries = request.timeseries.add()
        for name, value in labels.items():
            timeseries.labels.add(name=name.encode(), value=value.encode())
        for timestamp_ms, sample in samples:
            timeseries.samples.add(timestamp=timestamp_ms, value=sample)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def _labels(position: int, timeseries) -> dict[str, str]:
    """The series' labels, checked as a label set (errors name the series by its labels)."""
    pairs = []
    for label in timeseries.labels:
        try:
            pairs.append((label.name.decode("utf-8"), label.value.decode("utf-8")))
        except UnicodeDecodeError:
            name = label.name.decode("utf-8", "replace")
            part = "a label name" if name != label.name.decode("utf-8", "ignore") else f"label {name!r}"
            raise BadRequest(f"timeseries[{position}]: {part} is not UTF-8 text") from None
    try:
        return check_label_set(f"timeseries[{position}]", pairs)
    except BadRequest as error:  # name the series by what it sent, as far as it is readable
        shown = ", ".join(f"{n}={v!r}" for n, v in pairs[:8]) + (", ..." if len(pairs) > 8 else "")
        raise BadRequest(error.message.replace(f"timeseries[{position}]", f"timeseries[{position}] {{{shown}}}", 1)
                         ) from None


def decode_remote_write(body: bytes, builder: BatchBuilder, limits: BatchLimits | None = None) -> RemoteWriteResult:
    """Snappy + protobuf -> validated batch; 400 when either layer is malformed, 413 past the limits
    (the ``ingest`` settings' defaults when None)."""
    limits = limits or BatchLimits.of()
    raw = decompress(body, "snappy", limit=limits.max_decompressed_bytes)
    request = write_request_class()()
    try:
        request.ParseFromString(raw)
    except DecodeError as error:
        raise BadRequest(f"body is not a protobuf WriteRequest: {error}") from None
    del raw
    series = request.timeseries
    if len(series) > limits.max_series:
        raise PayloadTooLarge(f"{len(series)} series in one request; at most {limits.max_series} "
                              "(lower queue_config.max_samples_per_send)")
    samples = sum(len(timeseries.samples) for timeseries in series)
    if samples > limits.max_points:
        raise PayloadTooLarge(f"{samples} samples in one request; at most {limits.max_points} "
                              "(lower queue_config.max_samples_per_send)")
    # Every sample of the request in one pass (one Python step per sample, no numpy call per
    # series), then each series takes its slice.
    counts = np.fromiter((len(timeseries.samples) for timeseries in series), np.int64, len(series))
    ends = np.cumsum(counts)
    all_values = np.fromiter((s.value for timeseries in series for s in timeseries.samples), np.float64, samples)
    all_times = np.fromiter((s.timestamp for timeseries in series for s in timeseries.samples), np.int64, samples)
    finite = np.isfinite(all_values)
    in_range = np.abs(np.where(finite, all_values, 0.0)) <= MAX_ABS_VALUE
    keep = finite & in_range
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    skipped["non_finite"] = int((~finite).sum())
    skipped["out_of_range"] = int((finite & ~in_range).sum())
    added = False
    for position, timeseries in enumerate(series):
        labels = _labels(position, timeseries)
        metric_name = labels.pop("__name__", "")
        service_id = next((labels[name] for name in SERVICE_LABELS if labels.get(name)), "")
        where = f"timeseries[{position}] ({service_id or '?'}/{metric_name or '?'})"
        if not metric_name:
            raise BadRequest(f"{where}: no __name__ label (the metric name)")
        if not service_id:
            raise Unprocessable(f"{where}: needs one of the labels {', '.join(SERVICE_LABELS)}")
        skipped["native_histogram"] += len(timeseries.histograms)
        skipped["exemplar"] += len(timeseries.exemplars)
        start, end = int(ends[position] - counts[position]), int(ends[position])
        kept = keep[start:end]
        values, timestamps = all_values[start:end], all_times[start:end]
        if not kept.all():
            values, timestamps = values[kept], timestamps[kept]
        if values.size == 0:
            continue
        builder.add(where, service_id, metric_name, labels, timestamps, values)
        added = True
    return RemoteWriteResult(builder.build() if added else None, {k: n for k, n in skipped.items() if n})
