"""``ExportTraceServiceRequest`` -> rows of the ``spans`` table (one Arrow table).

A span is refused on its own (counted for ``partial_success``) when its trace id is not
16 bytes or its span id not 8 (all-zero ids are invalid too, per the OTLP spec), its
parent id is neither empty nor 8 bytes, it ends before it starts, it starts outside the
accepted time range (``ingest.max_past_seconds`` back, ``ingest.max_future_seconds``
ahead), or its resource's ``service.name`` is longer than a series' service id may be.
Columns follow the ``spans`` table: ids as lower-case hex, ``kind`` and ``status_code``
as OTLP's enum numbers, start as nanoseconds, duration in nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from aiops.ingest.otlp.common import (
    MAX_SERVICE_CHARS,
    AttributeColumns,
    OtlpLimits,
    Rejections,
    check_items,
    hex_column,
    id_lengths_ok,
    service_of,
)

SPAN_COLUMNS = ("service", "operation", "trace_id", "span_id", "parent_span_id", "kind", "start", "duration_ns",
                "status_code", "status_message", "attributes")
START_TYPE = pa.timestamp("ns", tz="UTC")


@dataclass
class DecodedSpans:
    spans: pa.Table | None  # SPAN_COLUMNS; None when no span was accepted
    rejections: Rejections

    @property
    def count(self) -> int:
        return 0 if self.spans is None else self.spans.num_rows


def decode_spans(request: ExportTraceServiceRequest, limits: OtlpLimits) -> DecodedSpans:
    """Every span of ``request`` as a row, those refused left out and counted by reason; 413
    (before any per-span work) when it holds more than ``limits.max_items``."""
    check_items(sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans),
                limits.max_items, "spans")
    services, operations, trace_ids, span_ids, parent_ids = [], [], [], [], []
    kinds, starts, ends, codes, messages = [], [], [], [], []
    attributes = AttributeColumns(limits)
    for resource_spans in request.resource_spans:
        service = service_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                services.append(service)
                operations.append(span.name)
                trace_ids.append(span.trace_id)
                span_ids.append(span.span_id)
                parent_ids.append(span.parent_span_id)
                kinds.append(span.kind)
                starts.append(span.start_time_unix_nano)
                ends.append(span.end_time_unix_nano)
                status = span.status
                codes.append(status.code)
                messages.append(status.message)
                attributes.add(span.attributes)
    rejections = Rejections()
    if not services:
        return DecodedSpans(None, rejections)
    start = np.asarray(starts, np.uint64)
    end = np.asarray(ends, np.uint64)
    keep = np.ones(len(services), bool)

    def refuse(bad: np.ndarray, reason: str) -> None:
        rejections.add(reason, int((bad & keep).sum()))
        keep[bad] = False

    refuse(~id_lengths_ok(trace_ids, (16,)), "spans with a trace id that is not 16 non-zero bytes")
    refuse(~id_lengths_ok(span_ids, (8,)), "spans with a span id that is not 8 non-zero bytes")
    refuse(~id_lengths_ok(parent_ids, (0, 8)), "spans with a parent span id that is neither empty nor 8 bytes")
    refuse(end < start, "spans that end before they start")
    refuse(start < np.uint64(max(limits.earliest_ns, 0)), "spans that start too long ago")
    refuse(start > np.uint64(limits.latest_ns), "spans that start too far in the future")
    refuse(np.fromiter((len(s) > MAX_SERVICE_CHARS for s in services), bool, len(services)),
           f"spans whose service.name is longer than {MAX_SERVICE_CHARS} characters")
    if not keep.any():
        return DecodedSpans(None, rejections)
    mask = None if keep.all() else pa.array(keep)

    def column(values: pa.Array) -> pa.Array:
        return values if mask is None else values.filter(mask)

    table = pa.table({
        "service": column(pa.array(services, pa.string())),
        "operation": column(pa.array(operations, pa.string())),
        "trace_id": column(hex_column(trace_ids)),
        "span_id": column(hex_column(span_ids)),
        "parent_span_id": column(hex_column(parent_ids)),
        "kind": column(pa.array(np.asarray(kinds, np.uint8))),
        "start": column(pa.array(start.astype(np.int64)).cast(START_TYPE)),
        "duration_ns": column(pa.array(end - start)),
        "status_code": column(pa.array(np.asarray(codes, np.uint8))),
        "status_message": column(pa.array(messages, pa.string())),
        "attributes": attributes.column(None if mask is None else keep),
    })
    return DecodedSpans(table, rejections)
