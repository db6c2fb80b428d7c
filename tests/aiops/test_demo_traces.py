"""The demo shop's spans: well-formed OTLP, the faulty service slow or failing in its own spans only,
and the default ranker naming each round's service first from metrics and spans together."""

from __future__ import annotations

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from aiops.demo import runner
from aiops.demo.system import CALLS, Fault, System
from aiops.demo.traces import export_request, shop_spans
from aiops.rca.graph import DECLARED, Edge, ServiceGraph
from models.registry import build
from models.telemetry import MetricFrame
from models.telemetry.spans import STATUS_ERROR

ORIGIN = 1_700_000_040.0  # a whole minute


def _shop(faults: list[Fault], minutes: int):
    """The demo's shop with the demo's seeds (aiops.demo.runner)."""
    system = System(7)
    data, own_ms, own_errors = system.simulate(ORIGIN, minutes, faults, seed=11)
    return system, data, shop_spans(system, own_ms, own_errors, ORIGIN, minutes)


def test_spans_follow_the_call_graph_and_export_as_otlp() -> None:
    system, _, spans = _shop([], 3)
    by_id = dict(zip(spans.span_id, range(len(spans)), strict=True))
    for i in np.flatnonzero(spans.parent_span_id != ""):
        parent = by_id[spans.parent_span_id[i]]
        assert spans.trace_id[parent] == spans.trace_id[i]
        assert spans.start_unix_nano[parent] <= spans.start_unix_nano[i] <= spans.end_unix_nano[i] <= \
            spans.end_unix_nano[parent]
        if spans.service[parent] != spans.service[i]:  # a client span's child is the callee's server span
            assert (spans.service[parent], spans.service[i]) in CALLS
    assert set(spans.services) == set(system.services)
    request = ExportTraceServiceRequest.FromString(export_request(spans).SerializeToString())
    assert sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans) == len(spans)


def test_an_error_burst_starts_in_the_faulty_service_and_travels_up() -> None:
    _, _, spans = _shop([Fault("error_burst", "catalogue-db", 0, 5)], 5)
    failed = spans.status_code == STATUS_ERROR
    assert failed[spans.service == "catalogue-db"].mean() > 0.1
    assert failed[spans.service == "frontend"].any()  # its callers' spans end in error too
    assert not failed[np.isin(spans.service, ["cart-db", "user-db", "payment"])].any()


def test_every_demo_round_is_named_from_metrics_and_spans() -> None:
    total = runner.HISTORY + runner.SEGMENT * len(runner.ROUNDS)
    faults = [Fault(kind, service, runner.HISTORY + runner.SEGMENT * i + runner.FAULT_AT, runner.FAULT_MINUTES)
              for i, (kind, service, _, _) in enumerate(runner.ROUNDS)]
    _, data, spans = _shop(faults, total)
    ranker = build("ranker", "multimodal")
    for fault in faults:
        # As live: the alert starts two minutes after the fault; six minutes of it were sent.
        first, last = fault.start + runner.ALERT_DELAY - 60, fault.start + 6
        columns = list(data)
        frame = MetricFrame(ORIGIN + 60.0 * np.arange(first, last), 60.0, columns,
                            np.vstack([data[c][first:last] for c in columns]))
        graph = ServiceGraph([Edge(a, b, DECLARED, 1.0, 0) for a, b in CALLS], set(frame.services))
        window = spans.between(int((ORIGIN + 60 * first) * 1e9), int((ORIGIN + 60 * last) * 1e9))
        top = ranker.rank(frame, ORIGIN + 60.0 * (fault.start + runner.ALERT_DELAY), graph, spans=window)[0]
        assert top.service_id == fault.service, (fault, top)
        assert any(e.kind == "trace" for e in top.evidence), top.evidence
