"""OTLP/HTTP intake over real HTTP: spans and log records per second, next to the raw insert ceiling
of the ``spans`` and ``logs`` tables measured in the same run.

A scratch engine (``aiops up --detach``) gets a tenant on the ``enterprise`` plan and an
ingestion key; ``CLIENTS`` threads post pre-encoded protobuf requests (``ITEMS_PER_REQUEST``
spans or log records each, every one with its own ids, so none is a deduplicated retry)
to ``/v1/traces`` and then ``/v1/logs`` for ``SECONDS`` each. The spans look like an
instrumented shop's: 20 services, 10 span names each, server and client kinds, six
attributes; the records are 30 kinds of message with numbers in them, three attributes,
trace ids. The ceiling is ``insert_arrow`` of the same decoded rows straight into chDB.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from aiops.bench import ingest
from aiops.bench.engine_process import bench_engine
from aiops.bench.report import BenchResult
from aiops.ingest.otlp.common import OtlpLimits
from aiops.ingest.otlp.logs import decode_logs
from aiops.ingest.otlp.traces import decode_spans
from aiops.storage.telemetry_writes import with_tenant

CLIENTS = ingest.CLIENTS  # posted as the ingest bench posts (its drive)
SECONDS = ingest.SECONDS
ITEMS_PER_REQUEST = 2000
SERVICES = 20
TARGET_SHARE = 25.0  # per cent of the raw ceiling

MESSAGES = [f"{verb} {noun} {{}} in {{}} ms" for verb in ("fetched", "stored", "evicted", "rejected", "retried")
            for noun in ("order", "cart", "user", "session", "payment", "item")]


def _text(value: str) -> AnyValue:
    return AnyValue(string_value=value)


def span_bodies(count: int, start_ns: int) -> list[bytes]:
    """``count`` requests of the same shape, each span with fresh ids (traces of ten spans, each the parent
    of the next)."""
    request = ExportTraceServiceRequest()
    per_service = ITEMS_PER_REQUEST // SERVICES
    for s in range(SERVICES):
        resource = request.resource_spans.add()
        resource.resource.attributes.add(key="service.name", value=_text(f"svc-{s}"))
        scope = resource.scope_spans.add()
        scope.scope.name = "bench"
        for i in range(per_service):
            at = start_ns + (s * per_service + i) * 1000
            span = scope.spans.add(name=f"GET /api/v1/resource-{i % 10}", kind=2 if i % 10 == 0 else 3,
                                   start_time_unix_nano=at, end_time_unix_nano=at + 3_000_000 + i * 1000)
            span.status.code = 2 if i % 97 == 0 else 1
            span.attributes.extend([
                KeyValue(key="http.request.method", value=_text("GET")),
                KeyValue(key="http.route", value=_text(f"/api/v1/resource-{i % 10}/{{id}}")),
                KeyValue(key="http.response.status_code", value=AnyValue(int_value=200)),
                KeyValue(key="server.address", value=_text(f"svc-{s}.shop.svc")),
                KeyValue(key="network.peer.address", value=_text(f"10.0.{s}.{i % 250}")),
                KeyValue(key="user_agent.original", value=_text("bench/1.0")),
            ])
    spans = [span for resource in request.resource_spans for span in resource.scope_spans[0].spans]
    bodies = []
    for _ in range(count):
        ids = os.urandom(8 * len(spans))
        for i, span in enumerate(spans):
            if i % 10 == 0:
                span.trace_id = os.urandom(16)
                span.ClearField("parent_span_id")
            else:
                span.trace_id = spans[i - 1].trace_id
                span.parent_span_id = spans[i - 1].span_id
            span.span_id = ids[8 * i:8 * i + 8]
        bodies.append(request.SerializeToString())
    return bodies


def log_bodies(count: int, start_ns: int) -> list[bytes]:
    """``count`` requests of the same shape, each record with a fresh trace and span id."""
    request = ExportLogsServiceRequest()
    per_service = ITEMS_PER_REQUEST // SERVICES
    for s in range(SERVICES):
        resource = request.resource_logs.add()
        resource.resource.attributes.add(key="service.name", value=_text(f"svc-{s}"))
        scope = resource.scope_logs.add()
        for i in range(per_service):
            n = s * per_service + i
            record = scope.log_records.add(time_unix_nano=start_ns + n * 1000, severity_number=9 if i % 50 else 17,
                                           body=_text(MESSAGES[n % len(MESSAGES)].format(n, n % 997)))
            record.attributes.extend([KeyValue(key="code.function", value=_text(f"handler_{i % 7}")),
                                      KeyValue(key="thread.name", value=_text(f"worker-{i % 4}")),
                                      KeyValue(key="log.iostream", value=_text("stdout"))])
    records = [record for resource in request.resource_logs for record in resource.scope_logs[0].log_records]
    bodies = []
    for _ in range(count):
        ids = os.urandom(24 * len(records))
        for i, record in enumerate(records):
            record.trace_id = ids[24 * i:24 * i + 16]
            record.span_id = ids[24 * i + 16:24 * i + 24]
        bodies.append(request.SerializeToString())
    return bodies


LARGE_INSERT_REQUESTS = 25  # the large-insert ceiling writes this many requests' rows at once


def _decoded(span_bodies_: list[bytes], log_bodies_: list[bytes]) -> tuple[list[pa.Table], list[pa.Table]]:
    limits = OtlpLimits.around(time.time_ns(), 7 * 86400, 3600)
    return ([decode_spans(ExportTraceServiceRequest.FromString(b), limits).spans for b in span_bodies_],
            [decode_logs(ExportLogsServiceRequest.FromString(b), limits).logs for b in log_bodies_])


def _insert_rate(client, table: str, rows: pa.Table, seconds: float = 3.0) -> float:
    inserted, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        client.insert_arrow(table, rows, settings={"optimize_on_insert": 0})
        inserted += rows.num_rows
    return inserted / (time.perf_counter() - began)


def in_process(span_bodies_: list[bytes], log_bodies_: list[bytes]) -> dict[str, float]:
    """Where a request's time goes, in this process on a fresh chDB: decoding (parse and columns) and
    storing (``Store.ingest_spans`` / ``ingest_logs``, with the views and bookkeeping), ms per request;
    and the raw insert ceilings of both tables, at one request's rows per insert and at
    ``LARGE_INSERT_REQUESTS`` requests' rows."""
    from aiops.settings import load_settings
    from aiops.storage.store import Store

    out: dict[str, float] = {}
    began = time.perf_counter()
    spans, logs = _decoded(span_bodies_[:10], log_bodies_[:10])
    out["decode ms per request"] = (time.perf_counter() - began) * 1000 / 20
    spans_large, logs_large = _decoded(span_bodies_[10:10 + LARGE_INSERT_REQUESTS],
                                       log_bodies_[10:10 + LARGE_INSERT_REQUESTS])
    with tempfile.TemporaryDirectory(prefix="aiops-ceiling-") as scratch:
        store = Store(load_settings(data_dir=Path(scratch)))
        store.migrate()
        for name, tables, write in (("spans", spans, lambda i, t: store.ingest_spans("ceiling", t, f"s{i}", 10**6)),
                                    ("logs", logs, lambda i, t: store.ingest_logs("ceiling", t, f"l{i}"))):
            write(-1, tables[0])  # warm
            began = time.perf_counter()
            for i, table in enumerate(tables[1:]):
                write(i, table)
            out[f"store {name} ms per request"] = (time.perf_counter() - began) * 1000 / (len(tables) - 1)
        with store._pool.borrow() as client:  # noqa: SLF001 - the ceiling is the client itself
            for name, one, many in (("spans", spans[0], spans_large), ("logs", logs[0], logs_large)):
                out[f"{name} ceiling"] = _insert_rate(client, name, with_tenant("ceiling", one))
                large = pa.concat_tables([with_tenant("ceiling", t) for t in many]).unify_dictionaries()
                out[f"{name} large-insert ceiling"] = _insert_rate(client, name, large.combine_chunks())
        store.close()
    return out


def drive(engine, path: str, bodies: list[bytes], headers: dict[str, str], response_class,
          rejected_field: str) -> tuple[float, list[float], int]:
    """Post ``bodies`` as the ingest bench does (:func:`aiops.bench.ingest.drive`); returns (items/s
    accepted: each request's items less its answer's ``partial_success.<rejected_field>``, latencies ms,
    failed requests)."""

    def accepted(response) -> int:
        answer = response_class.FromString(response.content)
        return ITEMS_PER_REQUEST - getattr(answer.partial_success, rejected_field)

    rate, latencies, failed, _ = ingest.drive(engine, path, bodies, headers, accepted)
    return rate, latencies, failed


def run() -> BenchResult:
    result = BenchResult("otlp")
    needed = int(SECONDS * 120_000 / ITEMS_PER_REQUEST) + CLIENTS  # more than the engine takes in SECONDS
    start_ns = time.time_ns() - 3 * 3600 * 10**9  # inside the accepted window, outside the rollups' lookback
    spans = span_bodies(needed, start_ns)
    logs = log_bodies(needed, start_ns)
    local = in_process(spans[-40:], logs[-40:])  # bodies the engine will not see (their ids are new)
    with bench_engine() as engine:
        key = ingest.ingestion_key(engine)
        headers = {"Content-Type": "application/x-protobuf", "X-API-Key": key}
        cases = (("spans", "/v1/traces", spans[:-40], ExportTraceServiceResponse, "rejected_spans"),
                 ("logs", "/v1/logs", logs[:-40], ExportLogsServiceResponse, "rejected_log_records"))
        for table, path, bodies, answer, field in cases:
            label = "spans" if table == "spans" else "log records"
            rate, latencies, failed = drive(engine, path, bodies, headers, answer, field)
            ceiling, large = local[f"{table} ceiling"], local[f"{table} large-insert ceiling"]
            result.add(f"raw ceiling: insert_arrow into {table}, {ITEMS_PER_REQUEST} rows per insert", ceiling,
                       "rows/s", note="one request's rows, one client, no HTTP, same run")
            result.add(f"raw ceiling: insert_arrow into {table}, {ITEMS_PER_REQUEST * LARGE_INSERT_REQUESTS} rows "
                       "per insert", large, "rows/s", note="what larger inserts reach")
            result.add(f"{label}/s through {path} ({CLIENTS} clients)", rate, f"{label}/s",
                       note=f"{ITEMS_PER_REQUEST} per protobuf request; {failed} non-200 answers"
                            + ("; ran out of prepared requests" if len(latencies) + failed >= len(bodies) else ""))
            result.add(f"{label}: share of the {table} ceiling (same rows per insert)", 100.0 * rate / ceiling, "%",
                       f">= {TARGET_SHARE}")
            result.add(f"{label}: share of the {table} large-insert ceiling", 100.0 * rate / large, "%")
            ordered = sorted(latencies) or [float("nan")]
            result.add(f"{path} request latency p50", statistics.median(ordered), "ms")
            result.add(f"{path} request latency p99", ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], "ms")
            result.add(f"{table}: store ms per request, in process", local[f"store {table} ms per request"], "ms",
                       note="Store.ingest_*: span-name check, insert with its views, batch row")
    result.add("decode ms per request (protobuf to columns), in process", local["decode ms per request"], "ms",
               note=f"{ITEMS_PER_REQUEST} items, mean of spans and logs")
    return result
