"""Prometheus remote_write 1.0: a snappy-compressed protobuf ``prometheus.WriteRequest``.

The message types are declared here as a protobuf descriptor (the subset of Prometheus's
``types.proto`` / ``remote.proto`` that carries samples), and decoded by the protobuf
runtime; snappy block decompression is cramjam's. Series fields Prometheus may add
(exemplars, native histograms, metadata) are skipped as unknown fields.

``service_id`` is the first present label of ``service_id``, ``service``, ``job``;
``metric_name`` is ``__name__``; other labels are kept. Staleness markers (a special NaN
Prometheus writes when a series disappears) and other non-finite samples are skipped and
counted, because refusing the batch would make Prometheus drop its good samples too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cramjam
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from aiops.errors import BadRequest, Unprocessable
from aiops.ingest.batch import PointBatch
from aiops.ingest.builder import BatchBuilder

SERVICE_LABELS = ("service_id", "service", "job")

_F = descriptor_pb2.FieldDescriptorProto


def _message(file: descriptor_pb2.FileDescriptorProto, name: str, fields: list[tuple]) -> None:
    message = file.message_type.add(name=name)
    for field_name, number, kind, type_name in fields:
        field = message.field.add(name=field_name, number=number, type=kind, json_name=field_name)
        field.label = _F.LABEL_REPEATED if type_name else _F.LABEL_OPTIONAL
        if type_name:
            field.type_name = type_name


@cache
def write_request_class() -> type:
    """The ``prometheus.WriteRequest`` message class, built once from its descriptor."""
    file = descriptor_pb2.FileDescriptorProto(name="aiops/prometheus_remote.proto", package="prometheus",
                                              syntax="proto3")
    _message(file, "Label", [("name", 1, _F.TYPE_STRING, None), ("value", 2, _F.TYPE_STRING, None)])
    _message(file, "Sample", [("value", 1, _F.TYPE_DOUBLE, None), ("timestamp", 2, _F.TYPE_INT64, None)])
    _message(file, "TimeSeries", [("labels", 1, _F.TYPE_MESSAGE, ".prometheus.Label"),
                                  ("samples", 2, _F.TYPE_MESSAGE, ".prometheus.Sample")])
    _message(file, "WriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, ".prometheus.TimeSeries")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


@dataclass
class RemoteWriteResult:
    batch: PointBatch | None  # None when every sample was skipped
    skipped_non_finite: int


def encode_write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    """Labels and ``(timestamp_ms, value)`` samples -> a snappy-compressed WriteRequest (for tests, bench)."""
    request = write_request_class()()
    for labels, samples in series:
        timeseries = request.timeseries.add()
        for name, value in labels.items():
            timeseries.labels.add(name=name, value=value)
        for timestamp_ms, value in samples:
            timeseries.samples.add(timestamp=timestamp_ms, value=value)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def decode_remote_write(body: bytes, builder: BatchBuilder) -> RemoteWriteResult:
    """Snappy + protobuf -> validated batch; 400 when either layer is malformed."""
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except Exception as error:  # cramjam raises its own DecompressionError
        raise BadRequest(f"body is not snappy block-compressed: {error}") from None
    request = write_request_class()()
    try:
        request.ParseFromString(raw)
    except DecodeError as error:
        raise BadRequest(f"body is not a protobuf WriteRequest: {error}") from None
    skipped = 0
    added = False
    for position, timeseries in enumerate(request.timeseries):
        labels = {label.name: label.value for label in timeseries.labels}
        metric_name = labels.pop("__name__", "")
        service_id = next((labels[name] for name in SERVICE_LABELS if labels.get(name)), "")
        where = f"timeseries[{position}] ({service_id or '?'}/{metric_name or '?'})"
        if not service_id:
            raise Unprocessable(f"{where}: needs one of the labels {', '.join(SERVICE_LABELS)}")
        samples = timeseries.samples
        if not samples:
            continue
        values = np.fromiter((sample.value for sample in samples), np.float64, len(samples))
        timestamps = np.fromiter((sample.timestamp for sample in samples), np.int64, len(samples))
        finite = np.isfinite(values)
        if not finite.all():
            skipped += int((~finite).sum())
            values, timestamps = values[finite], timestamps[finite]
            if values.size == 0:
                continue
        builder.add(where, service_id, metric_name, labels, timestamps, values)
        added = True
    return RemoteWriteResult(builder.build() if added else None, skipped)
