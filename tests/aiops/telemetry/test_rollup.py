"""Spans and log records on real embedded ClickHouse: stored once, read back as the RCA reads them,
and closed minutes rolled up (once) into health series, observed calls and log templates."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from aiops.ingest.otlp.common import OtlpLimits
from aiops.ingest.otlp.logs import decode_logs
from aiops.ingest.otlp.traces import decode_spans
from aiops.settings import load_settings
from aiops.storage.records import TenantRecord
from aiops.storage.span_queries import SPAN_WINDOW_COLUMNS
from aiops.storage.store import Store
from aiops.telemetry.rollup import TelemetryRollup

MS = 1_000_000
LIMITS = OtlpLimits.around(time.time_ns(), 86_400, 300)
MINUTE = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
T0 = int(MINUTE.timestamp() * 1e9) + 1_000 * MS


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # No lateness: a minute is closed as soon as it is over and nothing more arrives.
    opened = Store(load_settings(data_dir=Path(tmp_path_factory.mktemp("telemetry")),
                                 otlp={"rollup_lateness_seconds": 0}))
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()  # chDB: one path per process at a time


def add_tenant(store: Store, tenant_id: str) -> str:
    store.create_tenant(TenantRecord(tenant_id, tenant_id, "pro", "ops@example.com", datetime.now(UTC)))
    return tenant_id


def span(service_spans: dict, service: str, trace_id: bytes, span_id: bytes, parent: bytes, name: str, kind: int,
         start_ms: int, end_ms: int, error: bool = False, **attributes: str) -> None:
    scope = service_spans.setdefault(service, [])
    scope.append(dict(trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=name, kind=kind,
                      start_time_unix_nano=T0 + start_ms * MS, end_time_unix_nano=T0 + end_ms * MS,
                      status={"code": 2 if error else 1},
                      attributes=[KeyValue(key=k.replace("_", "."), value=AnyValue(string_value=v))
                                  for k, v in attributes.items()]))


def shop_spans(requests: int = 4) -> pa.Table:
    """frontend (server, then a client call) -> payments (server, then a db client call)."""
    by_service: dict = {}
    for i in range(requests):
        trace, ids = os.urandom(16), [os.urandom(8) for _ in range(4)]
        at = i * 100
        span(by_service, "frontend", trace, ids[0], b"", "GET /checkout", 2, at, at + 20 + i)
        span(by_service, "frontend", trace, ids[1], ids[0], "POST /pay", 3, at + 1, at + 16)
        span(by_service, "payments", trace, ids[2], ids[1], "POST /pay", 2, at + 2, at + 15, error=i == 0)
        span(by_service, "payments", trace, ids[3], ids[2], "SELECT", 3, at + 3, at + 13, peer_service="postgres")
    request = ExportTraceServiceRequest()
    for service, spans in by_service.items():
        resource = request.resource_spans.add()
        resource.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
        scope = resource.scope_spans.add()
        for fields in spans:
            scope.spans.add(**fields)
    return decode_spans(request, LIMITS).spans


def shop_logs() -> pa.Table:
    request = ExportLogsServiceRequest()
    resource = request.resource_logs.add()
    resource.resource.attributes.add(key="service.name", value=AnyValue(string_value="payments"))
    scope = resource.scope_logs.add()
    # Drain groups messages by their number of tokens first: these two kinds never merge.
    lines = [(17, "card declined by issuer for order 11"), (9, "payment accepted order 12"),
             (9, "payment accepted order 13"), (17, "card declined by issuer for order 14")]
    for i, (severity, text) in enumerate(lines):
        scope.log_records.add(time_unix_nano=T0 + i * MS, severity_number=severity,
                              body=AnyValue(string_value=text))
    return decode_logs(request, LIMITS).logs


def window(store: Store, tenant: str) -> pa.Table:
    return store.spans_in_window(tenant, MINUTE - timedelta(hours=1), MINUTE + timedelta(hours=1), 10_000)


def test_spans_are_stored_once_per_trace_and_span_id(store: Store) -> None:
    tenant = add_tenant(store, "once")
    spans = shop_spans()
    for digest in ("retry", "retry", "another-batch-same-spans"):
        assert store.ingest_spans(tenant, spans, digest, 100).stored == spans.num_rows
    assert window(store, tenant).num_rows == spans.num_rows
    assert store.get_tenant(tenant).events_this_month == 2 * spans.num_rows  # the retry is not counted again
    assert window(store, "someone-else").num_rows == 0


def test_spans_in_window_has_the_rca_columns(store: Store) -> None:
    tenant = add_tenant(store, "columns")
    store.ingest_spans(tenant, shop_spans(), "d", 100)
    table = window(store, tenant)
    assert tuple(table.column_names) == SPAN_WINDOW_COLUMNS
    assert [str(t) for t in table.schema.types] == ["string"] * 5 + ["int64", "int64", "uint8", "uint8"]
    first = table.slice(0, 1).to_pylist()[0]
    assert first["start_unix_nano"] == T0 and first["end_unix_nano"] == T0 + 20 * MS and first["parent_span_id"] == ""
    only = store.spans_in_window(tenant, MINUTE, MINUTE + timedelta(minutes=1), 100, services=["payments"])
    assert set(only.column("service").to_pylist()) == {"payments"} and only.num_rows == 8


def test_span_names_past_the_tenant_bound_are_refused(store: Store) -> None:
    tenant = add_tenant(store, "names")
    spans = shop_spans()  # 4 (service, name) pairs
    outcome = store.ingest_spans(tenant, spans, "first", 3)
    assert (outcome.stored, outcome.rejected) == (12, 4) and "span name" in outcome.reason
    again = store.ingest_spans(tenant, shop_spans(), "second", 3)
    assert (again.stored, again.rejected) == (12, 4)  # the same three names still pass


def test_logs_in_window_has_the_rca_columns(store: Store) -> None:
    tenant = add_tenant(store, "logcolumns")
    store.ingest_logs(tenant, shop_logs(), "l")
    store.ingest_logs(tenant, shop_logs(), "l-again")  # same records: collapse
    table = store.logs_in_window(tenant, MINUTE, MINUTE + timedelta(minutes=1), 100)
    assert table.column_names == ["timestamp_unix_nano", "service", "trace_id", "span_id", "severity", "body"]
    assert table.num_rows == 4 and table.column("severity").to_pylist() == ["ERROR", "INFO", "INFO", "ERROR"]


def test_a_closed_minute_becomes_series_calls_and_templates_once(store: Store) -> None:
    tenant = add_tenant(store, "rolled")
    store.ingest_spans(tenant, shop_spans(), "s", 100)
    store.ingest_logs(tenant, shop_logs(), "l")
    delivered = []
    rollup = TelemetryRollup(store._settings, store, lambda t, batch: delivered.append((t, batch)),
                             owns=lambda t: t == tenant)
    assert rollup.run_once() == 2  # spans and logs of the minute
    assert rollup.run_once() == 0  # done once
    points = {}
    for _, batch in delivered:
        for i, (service, metric, labels) in enumerate(zip(batch.service_ids, batch.metric_names, batch.labels,
                                                          strict=True)):
            points[(service, metric, tuple(labels.items()))] = float(batch.values[batch.series_index == i][0])
    assert points[("frontend", "span_requests_per_minute", ())] == 4
    assert points[("payments", "span_requests_per_minute", ())] == 4
    assert points[("payments", "span_errors_per_minute", ())] == 1
    assert points[("payments", "span_error_rate", ())] == 0.25
    assert points[("frontend", "span_latency_p50_ms", ())] in (21.0, 22.0)
    assert points[("frontend", "span_latency_p99_ms", ())] == 23.0
    assert points[("payments", "span_self_time_ms", ())] == pytest.approx((3 + 10) / 2)
    assert points[("payments", "log_records_per_minute", (("severity", "ERROR"),))] == 2
    assert points[("payments", "log_new_templates_per_minute", ())] == 2
    assert sorted(v for (s, m, _), v in points.items() if m == "log_template_records_per_minute") == [2, 2]
    stored = store.read_series(tenant, "frontend", "span_requests_per_minute", MINUTE, MINUTE + timedelta(minutes=1),
                               None, 100)
    assert [s.points for s in stored] == [[[MINUTE.timestamp(), 4.0]]]
    assert store.get_tenant(tenant).events_this_month == 16 + 4  # spans and records; derived series are not counted
    calls = {(c.caller, c.callee): c for c in store.observed_calls(tenant, MINUTE, MINUTE + timedelta(minutes=1))}
    assert set(calls) == {("frontend", "payments"), ("payments", "postgres")}
    assert (calls[("frontend", "payments")].calls, calls[("frontend", "payments")].errors) == (4, 1)
    assert calls[("frontend", "payments")].latency_ms_mean == pytest.approx(15.0)
    logs = store.list_logs(tenant, "payments", MINUTE, MINUTE + timedelta(minutes=1), 17, 10)
    declined = "card declined by issuer for order <*>"
    assert [(r.body, r.template) for r in logs] == [("card declined by issuer for order 14", declined),
                                                    ("card declined by issuer for order 11", declined)]
    templates = store.log_templates_in_window(tenant, None, MINUTE, MINUTE + timedelta(minutes=1), 0, 10)
    assert sorted((t.template, t.records) for t in templates) == [(declined, 2), ("payment accepted order <*>", 2)]
    counts = store.log_template_counts(tenant, MINUTE, MINUTE + timedelta(minutes=1))
    assert counts.column_names == ["minute", "service", "template_id", "template", "severity", "records", "first_seen"]
    assert sorted(zip(counts.column("template").to_pylist(), counts.column("severity").to_pylist(),
                      counts.column("records").to_pylist(), strict=True)) == [
        (declined, "ERROR", 2), ("payment accepted order <*>", "INFO", 2)]
    # A restarted rollup rebuilds its miner from the stored templates: same ids for the same kind of message.
    restarted = TelemetryRollup(store._settings, store, lambda t, batch: None, owns=lambda t: t == tenant)
    miner = restarted._miner(tenant)
    declined_id = next(t.template_id for t in templates if "declined" in t.template)
    assert miner.mine("card declined by issuer for order 99", MINUTE) == (declined_id, False)


def test_a_failed_delivery_is_retried_at_the_next_pass(store: Store) -> None:
    tenant = add_tenant(store, "retried")
    store.ingest_spans(tenant, shop_spans(), "s", 100)
    failing = TelemetryRollup(store._settings, store, lambda t, b: (_ for _ in ()).throw(RuntimeError("shard down")),
                              owns=lambda t: t == tenant)
    assert failing.run_once() == 0
    delivered = []
    working = TelemetryRollup(store._settings, store, lambda t, b: delivered.append(b), owns=lambda t: t == tenant)
    assert working.run_once() == 1 and len(delivered) == 1
    stored = store.read_series(tenant, "payments", "span_requests_per_minute", MINUTE, MINUTE + timedelta(minutes=1),
                               None, 100)
    assert [s.points for s in stored] == [[[MINUTE.timestamp(), 4.0]]]  # stored once though computed twice


def test_an_analysis_uses_the_calls_its_window_observed_else_the_declared_ones(store: Store) -> None:
    from aiops.rca.graph import DECLARED, OBSERVED
    from aiops.rca.runner import RcaRunner

    tenant = add_tenant(store, "rca-calls")
    store.save_topology(tenant, [("web", "api")], "alice", datetime.now(UTC))
    runner = RcaRunner(store._settings, store)
    window = (MINUTE - timedelta(minutes=30), MINUTE + timedelta(minutes=5))
    assert {(e.source, e.target, e.kind) for e in runner.call_edges(tenant, *window)} == {("web", "api", DECLARED)}
    store.ingest_spans(tenant, shop_spans(), "s", 100)
    TelemetryRollup(store._settings, store, lambda t, b: None, owns=lambda t: t == tenant).run_once()
    assert {(e.source, e.target, e.kind) for e in runner.call_edges(tenant, *window)} == {
        ("frontend", "payments", OBSERVED), ("payments", "postgres", OBSERVED)}
    earlier = (MINUTE - timedelta(hours=3), MINUTE - timedelta(hours=2))  # nothing observed then
    assert {e.kind for e in runner.call_edges(tenant, *earlier)} == {DECLARED}


def test_a_ranker_reading_spans_gets_the_frame_without_the_series_rolled_up_from_them(store: Store) -> None:
    """As offline, where the frame is a case's metrics.csv: the spans are not counted twice."""
    from aiops.rca.runner import RcaRunner
    from models.registry import build

    tenant = add_tenant(store, "rca-frame")
    store.ingest_spans(tenant, shop_spans(), "s", 100)
    TelemetryRollup(store._settings, store, lambda t, b: None, owns=lambda t: t == tenant).run_once()
    runner = RcaRunner(store._settings, store)
    window = (MINUTE - timedelta(minutes=30), MINUTE + timedelta(minutes=5))
    assert build("ranker", "multimodal").reads_telemetry and not build("ranker", "baro").reads_telemetry
    metrics_only = {metric for _, metric in runner.frame(tenant, *window, build("ranker", "baro")).columns}
    assert {"span_requests_per_minute", "span_error_rate"} <= metrics_only
    assert runner.frame(tenant, *window, build("ranker", "multimodal")).columns == []
