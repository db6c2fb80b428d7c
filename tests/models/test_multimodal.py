"""The combined ranker on faults that show only in traces and logs (metrics are plain noise)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aiops.bench.traced_tenant import traced_tenant
from models.rankers.base import LOG, METRIC, TRACE, deviation
from models.rankers.multimodal import MultimodalConfig, MultimodalRanker
from models.rankers.signals.base import Signal, count_surprise, novel_count, saturating
from models.rankers.signals.metrics import metric_kind
from models.rankers.signals.templates import clean, mask, mine_templates
from models.rankers.signals.traces import SpanFrame
from models.registry import build
from models.telemetry import LogTable, MetricFrame, SpanTable
from tests.aiops.rca.synthetic import fault, frame_of


def ranker(**config) -> MultimodalRanker:
    return build("ranker", "multimodal", config)


@pytest.mark.parametrize("kind", ["slow", "exception", "network"])
def test_a_fault_seen_only_in_spans_and_logs_ranks_its_service_first(kind: str) -> None:
    tenant = traced_tenant(8, fault=kind, faulty=4, seed=1)
    ranking = ranker().rank(tenant.frame, tenant.start, spans=tenant.spans, logs=tenant.logs)
    assert ranking[0].service_id == tenant.root_cause == "svc-04"
    assert sorted(c.service_id for c in ranking) == tenant.services
    kinds = {e.kind for e in ranking[0].evidence}
    assert kinds & {TRACE, LOG} and all(abs(e.z_score) >= 2 for e in ranking[0].evidence)
    # The metrics alone cannot see it: they are noise.
    alone = ranker(modalities=("metric",)).rank(tenant.frame, tenant.start, spans=tenant.spans, logs=tenant.logs)
    assert {e.kind for c in alone for e in c.evidence} <= {METRIC}


def test_evidence_names_the_operation_the_calls_and_the_template() -> None:
    slow = traced_tenant(8, fault="slow", faulty=4, seed=2)
    top = ranker().rank(slow.frame, slow.start, spans=slow.spans, logs=slow.logs)[0]
    own = next(e for e in top.evidence if e.metric_name == "span_self_time")
    assert own.operation == "handle svc-04" and own.observed > 4 * own.expected and own.at >= slow.start
    network = traced_tenant(8, fault="network", faulty=4, seed=2)
    top = ranker().rank(network.frame, network.start, spans=network.spans, logs=network.logs)[0]
    call = next(e for e in top.evidence if e.metric_name == "call_latency")
    assert call.calls == "svc-01 -> svc-04" and call.observed > call.expected + 20
    broken = traced_tenant(8, fault="exception", faulty=4, seed=2)
    top = ranker().rank(broken.frame, broken.start, spans=broken.spans, logs=broken.logs)[0]
    errors = next(e for e in top.evidence if e.metric_name == "error_logs")
    assert "IllegalStateException" in errors.template and "<NUM>" in errors.template and errors.expected < 1
    missing = next(e for e in top.evidence if e.metric_name == "missing_logs")
    assert missing.template == "handled request <NUM> in <NUM> ms" and missing.observed == 0


def test_an_error_is_blamed_where_it_starts_not_on_the_callers_it_travels_through() -> None:
    tenant = traced_tenant(8, fault="exception", faulty=4, status=True, seed=3)
    signals = ranker(modalities=("trace",)).signals(tenant.frame, tenant.start, spans=tenant.spans)
    errors = next(s for s in signals if s.name == "trace.errors")
    assert set(errors.score) == {"svc-04"}  # svc-01 and svc-00 spans failed too, as callers


def test_a_caller_waiting_on_a_slow_callee_keeps_its_own_time() -> None:
    tenant = traced_tenant(4, fault="slow", faulty=3, seed=4)  # svc-00 -> svc-01 -> svc-03
    frame = SpanFrame(tenant.spans, tenant.start)
    table = pd.DataFrame({"service": frame.services[frame.svc], "after": frame.after, "own": frame.own_ms,
                          "total": frame.duration_ms})[~frame.client]
    own = table.groupby(["service", "after"]).own.median().unstack()
    total = table.groupby(["service", "after"]).total.median().unstack()
    assert own.loc["svc-03", True] > 4 * own.loc["svc-03", False]
    assert own.loc["svc-01", True] < 1.5 * own.loc["svc-01", False]  # its duration grew, its own time did not
    assert total.loc["svc-01", True] > 2 * total.loc["svc-01", False]


def test_without_spans_after_the_start_only_the_metrics_speak() -> None:
    tenant = traced_tenant(6, fault="slow", faulty=2, minutes=20, fault_minute=25)  # the fault never happens
    signals = ranker().signals(tenant.frame, tenant.start, spans=tenant.spans, logs=tenant.logs)
    assert {s.kind for s in signals} == {METRIC}


def test_metric_kinds_and_harmful_directions() -> None:
    assert [metric_kind(m) for m in ("PodClientLatencyP95(s)", "PodServerLatencyP99(s)", "PodSuccessRate(%)",
                                     "CpuUsage(m)", "MemoryUsageRate(%)", "NetworkReceiveBytes", "PodWorkload(Ops)",
                                     "http_server_errors_total", "lat_90", "queue_depth")] == [
        "client_latency", "latency", "success", "cpu", "memory", "network", "workload", "errors", "latency", "other"]
    # A success rate that rises, or a latency that falls, is not evidence against a service.
    minutes = np.arange(40)
    up = np.r_[np.full(30, 90.0), np.full(10, 99.0)] + 0.1 * np.sin(minutes)
    down = np.r_[np.full(30, 50.0), np.full(10, 5.0)] + 0.1 * np.sin(minutes)
    frame = MetricFrame(60.0 * minutes, 60.0, [("a", "success_rate"), ("b", "latency_ms")], np.vstack([up, down]))
    signal = ranker(modalities=("metric",)).signals(frame, 60.0 * 30)[0]
    assert signal.evidence == {}


def test_a_reading_at_the_float_limit_ranks_its_service_first() -> None:
    data = fault(fault_at=100)
    data[("cache", "cpu")][100:] = 1e308
    ranking = ranker().rank(frame_of(data), 1_700_000_000.0 + 6000)
    assert ranking[0].service_id == "cache" and np.isfinite(ranking[0].score)
    assert np.isfinite(deviation(frame_of(data), 1_700_000_000.0 + 6000, robust=True, relative_floor=0.01).z).all()


def test_signals_vote_by_their_strength_and_how_clearly_their_leader_stands_out() -> None:
    clear = Signal("a", TRACE, {"x": 1.0, "y": 0.1})
    tied = Signal("b", TRACE, {"x": 0.5, "y": 0.5})
    assert clear.margin() == pytest.approx(0.9) and tied.margin() == 0.0
    assert clear.vote(["x", "y", "z"]).tolist() == pytest.approx([0.9, 0.09, 0.0])
    assert Signal("c", LOG, {"x": 0.3}).margin() == 1.0 and Signal("d", LOG, {}).margin() == 0.0
    # A weak change stays weak although it leads its signal: strengths are not rescaled per case.
    weak = Signal("e", TRACE, {"x": 0.05, "y": 0.01}, confidence=0.5)
    assert weak.vote(["x", "y"]).tolist() == pytest.approx([0.05 * 0.8 * 0.5, 0.01 * 0.8 * 0.5])


def test_counts_of_new_events_weigh_what_was_not_due() -> None:
    novel = novel_count(np.array([2, 2, 2, 0]), np.array([0.0, 2.0, 18.0, 3.0]))
    assert novel.tolist() == pytest.approx([2.0, 1.0, 0.2, 0.0])
    assert saturating(np.array([0.0, 1.0, 3.0])).tolist() == pytest.approx([0.0, 0.5, 0.75])


def test_count_surprise_is_signed_and_finite() -> None:
    s = count_surprise(np.array([0, 5, 10, 3]), np.array([5.0, 5.0, 0.0, 1.0]))
    assert s[0] < 0 and s[1] == 0 and s[2] > 0 and s[3] > 0 and np.isfinite(s).all()


def test_templates_group_lines_that_differ_only_in_their_variables() -> None:
    services = np.array(["cart", "cart", "cart", "pay"], dtype=object)
    bodies = np.array(["12:00:01.5 INFO  Order 42 not found TraceID: 1a2b3c SpanID: 4d5e",
                       "12:00:02.5 INFO  Order 7 not found TraceID: 9f9f9f SpanID: 0a0a",
                       "12:00:03.0 ERROR Redis timeout after 500 ms",
                       "12:00:04.0 INFO  Order 42 not found"], dtype=object)
    ids, texts = mine_templates(services, bodies)
    assert ids[0] == ids[1] != ids[2] and ids[3] != ids[0]  # another service's line is another template
    assert texts[int(ids[0])] == "Order <NUM> not found"
    assert mask(clean("2026-01-02T03:04:05Z WARN: disk 93% full id=550e8400-e29b-41d4-a716-446655440000")) == \
        "disk <NUM>% full id=<UUID>"


def test_config_is_strict_and_modalities_are_checked() -> None:
    with pytest.raises(ValueError):
        MultimodalConfig(trace_weight=1, bogus=2)
    with pytest.raises(ValueError):
        MultimodalConfig(modalities=("metric", "video"))


def test_without_trace_or_log_evidence_the_ranking_is_baros() -> None:
    from aiops.demo.system import CALLS, Fault, System
    from aiops.rca.graph import DECLARED, Edge, ServiceGraph

    system, origin = System(seed=3), 1_700_000_000.0
    data = system.generate(origin, 130, [Fault("error_burst", "catalogue-db", 100, 12)], seed=5)
    columns = list(data)
    # The fault began a minute before the analysis start: callee and caller move in the same step.
    values = np.vstack([data[c][41:106] for c in columns])
    frame = MetricFrame(origin + 60.0 * np.arange(41, 106), 60.0, columns, values)
    graph = ServiceGraph([Edge(a, b, DECLARED, 1.0, 0) for a, b in CALLS], set(frame.services))
    start = origin + 60.0 * 101
    baro = [c.service_id for c in build("ranker", "baro").rank(frame, start, graph)]
    ranking = ranker().rank(frame, start, graph)
    assert [c.service_id for c in ranking] == baro and baro[0] == "catalogue-db"
    assert ranking[0].evidence[0].metric_name == "error_rate"
    # Spans and logs that hold nothing after the start change nothing either.
    quiet = traced_tenant(6, minutes=20, fault_minute=25)
    with_spans = ranker().rank(quiet.frame, quiet.start, spans=quiet.spans, logs=quiet.logs)
    assert [c.service_id for c in with_spans] == [
        c.service_id for c in build("ranker", "baro").rank(quiet.frame, quiet.start)]


def _two_hop_case(caller_logs_too: bool, severity: str = "ERROR"):
    """``api`` calls ``db`` in 40 traces; from the 20th on ``db`` logs an error (and ``api`` one about the call)."""
    ids, parents, services, starts, ends = [], [], [], [], []
    logs: dict[str, list] = {k: [] for k in ("at", "service", "trace", "span", "severity", "body")}

    def line(at, service, trace, span, sev, body):
        for key, value in zip(logs, (at, service, trace, span, sev, body), strict=True):
            logs[key].append(value)

    for i in range(40):
        t0 = (1_000 + 10 * i) * 10**9
        trace = f"{i:032x}"
        ids += [f"{trace}a", f"{trace}b"]
        parents += ["", f"{trace}a"]
        services += ["api", "db"]
        starts += [t0, t0 + 10**6]
        ends += [t0 + 9 * 10**6, t0 + 5 * 10**6]
        line(t0 + 2 * 10**6, "db", trace, f"{trace}b", "INFO", f"query {i} done")
        line(t0 + 8 * 10**6, "api", trace, f"{trace}a", "INFO", f"request {i} served")
        if i >= 20:
            line(t0 + 3 * 10**6, "db", trace, f"{trace}b", severity, f"lookup {i} failed: no row")
            if caller_logs_too:
                line(t0 + 8 * 10**6, "api", trace, f"{trace}a", severity, f"call to db failed for request {i}")
    spans = SpanTable.from_columns(trace_id=[s[:32] for s in ids], span_id=ids, parent_span_id=parents,
                                   service=services, operation=["GET /", "SELECT"] * 40, start_unix_nano=starts,
                                   end_unix_nano=ends)
    table = LogTable.from_columns(timestamp_unix_nano=logs["at"], service=logs["service"], trace_id=logs["trace"],
                                  span_id=logs["span"], severity=logs["severity"], body=logs["body"])
    return spans, table, 1_000.0 + 10 * 20


def test_an_error_is_blamed_on_the_callee_that_logged_it_not_the_callers_that_echo_it() -> None:
    spans, logs, start = _two_hop_case(caller_logs_too=True)
    signals = ranker(modalities=("log",)).signals(MetricFrame(np.empty(0), 60.0, [], np.empty((0, 0))), start,
                                                  spans=spans, logs=logs)
    errors = next(s for s in signals if s.name == "log.error_logs")
    assert set(errors.score) == {"db"} and errors.score["db"] == pytest.approx(20 / 21)
    assert errors.evidence["db"][0].template == "lookup <NUM> failed: no row"


def test_warnings_are_not_error_evidence() -> None:
    spans, logs, start = _two_hop_case(caller_logs_too=False, severity="WARN")
    signals = ranker(modalities=("log",)).signals(MetricFrame(np.empty(0), 60.0, [], np.empty((0, 0))), start,
                                                  spans=spans, logs=logs)
    assert all(s.name != "log.error_logs" for s in signals)


def test_exact_ties_put_a_declared_callee_before_its_caller() -> None:
    from models.rankers.multimodal import callees_first

    services = ["api", "db", "web", "zed"]
    keys = [(0.0, 5.0), (0.0, 5.0), (0.0, 5.0), (1.0, 5.0)]
    calls = {"web": {"api", "db"}, "api": {"db"}}
    order = callees_first([3, 0, 1, 2], keys, [calls.get(s, set()) for s in services], services)
    assert [services[i] for i in order] == ["zed", "db", "api", "web"]
