"""The demo shop's requests as OpenTelemetry spans, and their OTLP/HTTP export requests.

Each request enters at ``frontend``, which calls one of its callees (a page view reads the
cart, the catalogue, the user or checks out); every other service calls all of its callees
in turn. A service writes a server span (``SPAN_KIND_SERVER``) and a client span
(``SPAN_KIND_CLIENT``) per call it makes. Its own work is what :meth:`System.simulate` says
for that minute (a CPU-saturated or leaking service is slow in its own spans, not in its
callers'), half before its calls and half after; with its own error rate its span ends in
error, and so do its callers' spans up the request (an error travels up, as it does in a
real request). Sampling is left to the caller: the demo sends every request.
"""

from __future__ import annotations

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from aiops.demo.system import System
from models.telemetry import SpanTable
from models.telemetry.spans import KIND_CLIENT, KIND_SERVER, STATUS_ERROR

ENTRY = "frontend"
NETWORK_MS = 0.4  # one way, between a client span and its callee's server span


def shop_spans(system: System, own_ms: dict[str, np.ndarray], own_errors: dict[str, np.ndarray],
               start_unix: float, minutes: int, *, requests_per_minute: int = 8, seed: int = 13) -> SpanTable:
    """The spans of ``requests_per_minute`` requests a minute for ``minutes`` from ``start_unix``.

    ``own_ms`` / ``own_errors``: per service, its own work (ms) and error rate (%) per minute,
    from :meth:`System.simulate`. Times are unix nanoseconds.
    """
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("trace_id", "span_id", "parent_span_id", "service", "operation",
                                             "start_unix_nano", "end_unix_nano", "status_code", "kind")}
    ids = iter(range(1, 1 << 62))

    def add(trace: str, span: str, parent: str, service: str, operation: str, begin: float, end: float,
            failed: bool, kind: int) -> None:
        for key, value in (("trace_id", trace), ("span_id", span), ("parent_span_id", parent), ("service", service),
                           ("operation", operation), ("start_unix_nano", int(begin)), ("end_unix_nano", int(end)),
                           ("status_code", STATUS_ERROR if failed else 0), ("kind", kind)):
            rows[key].append(value)

    def serve(trace: str, parent: str, service: str, begin: float, minute: int, callees: list[str]) -> tuple[float,
                                                                                                           bool]:
        """Run ``service``'s handler from ``begin`` (ns); returns its end and whether it failed."""
        work = own_ms[service][minute] * rng.lognormal(0, 0.15) * 1e6
        span = f"{next(ids):016x}"  # reserved first: its children point at it
        at, failed = begin + work / 2, False
        for callee in callees:
            client = f"{next(ids):016x}"
            gap = NETWORK_MS * 1e6 * (1 + rng.exponential(0.3))
            done, broke = serve(trace, client, callee, at + gap, minute, sorted(system.graph.successors(callee)))
            add(trace, client, span, service, f"call {callee}", at, done + gap, broke, KIND_CLIENT)
            at, failed = done + gap, failed or broke
        failed = failed or rng.random() < own_errors[service][minute] / 100
        end = at + work / 2
        add(trace, span, parent, service, f"handle {service}", begin, end, failed, KIND_SERVER)
        return end, failed

    entry_calls = sorted(system.graph.successors(ENTRY))
    for minute in range(minutes):
        for _ in range(requests_per_minute):
            begin = (start_unix + 60.0 * minute + rng.uniform(0, 59)) * 1e9
            trace = f"{int(rng.integers(1 << 62)):032x}"
            serve(trace, "", ENTRY, begin, minute, [entry_calls[int(rng.integers(len(entry_calls)))]])
    return SpanTable.from_columns(**rows)


def export_request(spans: SpanTable) -> ExportTraceServiceRequest:
    """An OTLP ``ExportTraceServiceRequest`` of ``spans``, one resource (``service.name``) per service."""
    request = ExportTraceServiceRequest()
    for service in spans.services:
        resource = request.resource_spans.add()
        resource.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
        scope = resource.scope_spans.add()
        for i in np.flatnonzero(spans.service == service):
            span = scope.spans.add(trace_id=bytes.fromhex(spans.trace_id[i]), span_id=bytes.fromhex(spans.span_id[i]),
                                   parent_span_id=bytes.fromhex(spans.parent_span_id[i]), name=spans.operation[i],
                                   start_time_unix_nano=int(spans.start_unix_nano[i]),
                                   end_time_unix_nano=int(spans.end_unix_nano[i]))
            if spans.kind is not None:
                span.kind = int(spans.kind[i])
            if spans.status_code is not None and spans.status_code[i]:
                span.status.code = int(spans.status_code[i])
    return request
