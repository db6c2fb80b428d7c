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
import threading
import time
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from aiops.bench.engine_process import bench_engine
from aiops.bench.report import BenchResult
from aiops.ingest.otlp.common import OtlpLimits
from aiops.ingest.otlp.logs import decode_logs
from aiops.ingest.otlp.traces import decode_spans
from aiops.storage.telemetry_writes import with_tenant

CLIENTS = 4
SECONDS = 10.0
ITEMS_PER_REQUEST = 2000
SERVICES = 20
TARGET_SHARE = 25.0  # per cent of the raw ceiling

MESSAGES = [f"{verb} {noun} {{}} in {{}} ms" for verb in ("fetched", "stored", "evicted", "rejected", "retried")
            for noun in ("order", "cart", "user", "session", "payment", "item")]


def _text(value: str) -> AnyValue:
    return AnyValue(string_value=value)


def span_bodies(count: int, start_ns: int) -> list[bytes]:
    bodies = []
    per_service = ITEMS_PER_REQUEST // SERVICES
    for b in range(count):
        request = ExportTraceServiceRequest()
        for s in range(SERVICES):
            resource = request.resource_spans.add()
            resource.resource.attributes.add(key="service.name", value=_text(f"svc-{s}"))
            scope = resource.scope_spans.add()
            scope.scope.name = "bench"
            trace_id = os.urandom(16)
            parent = b""
            for i in range(per_service):
                if i % 10 == 0:
                    trace_id, parent = os.urandom(16), b""
                at = start_ns + (b * ITEMS_PER_REQUEST + s * per_service + i) * 1000
                span = scope.spans.add(trace_id=trace_id, span_id=os.urandom(8), parent_span_id=parent,
                                       name=f"GET /api/v1/resource-{i % 10}", kind=2 if not parent else 3,
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
                parent = span.span_id
        bodies.append(request.SerializeToString())
    return bodies


def log_bodies(count: int, start_ns: int) -> list[bytes]:
    bodies = []
    per_service = ITEMS_PER_REQUEST // SERVICES
    for b in range(count):
        request = ExportLogsServiceRequest()
        for s in range(SERVICES):
            resource = request.resource_logs.add()
            resource.resource.attributes.add(key="service.name", value=_text(f"svc-{s}"))
            scope = resource.scope_logs.add()
            for i in range(per_service):
                n = b * ITEMS_PER_REQUEST + s * per_service + i
                record = scope.log_records.add(time_unix_nano=start_ns + n * 1000, severity_number=9 if i % 50 else 17,
                                               body=_text(MESSAGES[n % len(MESSAGES)].format(n, n % 997)),
                                               trace_id=os.urandom(16), span_id=os.urandom(8))
                record.attributes.extend([KeyValue(key="code.function", value=_text(f"handler_{i % 7}")),
                                          KeyValue(key="thread.name", value=_text(f"worker-{i % 4}")),
                                          KeyValue(key="log.iostream", value=_text("stdout"))])
        bodies.append(request.SerializeToString())
    return bodies


def raw_ceilings(span_body: bytes, log_body: bytes) -> tuple[float, float]:
    """Rows per second of ``insert_arrow`` of the decoded rows straight into a fresh chDB's tables."""
    from aiops.settings import load_settings
    from aiops.storage.store import Store

    limits = OtlpLimits.around(time.time_ns(), 7 * 86400, 3600)
    spans = decode_spans(ExportTraceServiceRequest.FromString(span_body), limits).spans
    logs = decode_logs(ExportLogsServiceRequest.FromString(log_body), limits, time.time_ns()).logs
    rates = []
    with tempfile.TemporaryDirectory(prefix="aiops-ceiling-") as scratch:
        store = Store(load_settings(data_dir=Path(scratch)))
        store.migrate()
        with store._pool.borrow() as client:  # noqa: SLF001 - the ceiling is the client itself
            for table, rows in (("spans", with_tenant("ceiling", spans)), ("logs", with_tenant("ceiling", logs))):
                inserted, began = 0, time.perf_counter()
                while time.perf_counter() - began < 3.0:
                    client.insert_arrow(table, rows, settings={"optimize_on_insert": 0})
                    inserted += rows.num_rows
                rates.append(inserted / (time.perf_counter() - began))
        store.close()
    return rates[0], rates[1]


def drive(engine, path: str, bodies: list[bytes], headers: dict[str, str], response_class,
          rejected_field: str) -> tuple[float, list[float], int]:
    """Post ``bodies`` from CLIENTS threads for SECONDS; returns (items/s accepted, latencies ms, failed requests)."""
    cursor = iter(range(len(bodies)))
    lock = threading.Lock()
    latencies: list[float] = []
    failed = [0]
    accepted = [0]
    deadline = time.perf_counter() + SECONDS

    def client() -> None:
        with engine.client(headers=headers) as http:
            while time.perf_counter() < deadline:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                began = time.perf_counter()
                response = http.post(path, content=bodies[index])
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    if response.status_code == 200:
                        latencies.append(elapsed)
                        answer = response_class.FromString(response.content)
                        accepted[0] += ITEMS_PER_REQUEST - getattr(answer.partial_success, rejected_field)
                    else:
                        failed[0] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted[0] / (time.perf_counter() - began), latencies, failed[0]


def run() -> BenchResult:
    result = BenchResult("otlp")
    needed = int(SECONDS * 250_000 / ITEMS_PER_REQUEST) + CLIENTS
    start_ns = time.time_ns() - 3 * 3600 * 10**9  # inside the accepted window, outside the rollups' lookback
    spans = span_bodies(needed, start_ns)
    logs = log_bodies(needed, start_ns)
    span_ceiling, log_ceiling = raw_ceilings(spans[0], logs[0])
    with bench_engine() as engine:
        with engine.client() as http:
            admin = {"Authorization": f"Bearer {engine.token('root')}"}
            http.post("/api/v1/tenants", json={"tenant_id": "bench", "name": "Bench", "plan": "enterprise"},
                      headers=admin).raise_for_status()
            created = http.post("/api/v1/apikeys", json={"name": "bench", "scope": "ingestion",
                                                         "rate_limit_rps": 100000},
                                headers={"Authorization": f"Bearer {engine.token('bench')}"})
            created.raise_for_status()
            key = created.json()["api_key"]
        headers = {"Content-Type": "application/x-protobuf", "X-API-Key": key}
        cases = (("spans", "/v1/traces", spans, ExportTraceServiceResponse, "rejected_spans", span_ceiling),
                 ("log records", "/v1/logs", logs, ExportLogsServiceResponse, "rejected_log_records", log_ceiling))
        for label, path, bodies, answer, field, ceiling in cases:
            rate, latencies, failed = drive(engine, path, bodies, headers, answer, field)
            table = "spans" if label == "spans" else "logs"
            result.add(f"raw ceiling: insert_arrow into {table}", ceiling, "rows/s",
                       note=f"{ITEMS_PER_REQUEST}-row Arrow tables, one client, no HTTP, same run")
            result.add(f"{label}/s through {path} ({CLIENTS} clients)", rate, f"{label}/s",
                       note=f"{ITEMS_PER_REQUEST} per protobuf request; {failed} non-200 answers")
            result.add(f"{label}: share of the {table} ceiling", 100.0 * rate / ceiling, "%", f">= {TARGET_SHARE}")
            ordered = sorted(latencies) or [float("nan")]
            result.add(f"{path} request latency p50", statistics.median(ordered), "ms")
            result.add(f"{path} request latency p99", ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], "ms")
    return result
