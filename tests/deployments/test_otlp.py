"""OpenTelemetry in, over real HTTP: the real Python SDK and its OTLP/HTTP exporters, and hostile bodies.

A small instrumented "shop" (three services, each its own SDK providers and resource)
exports spans, metrics and logs with the SDK's own OTLP/HTTP exporters, protobuf for two
services and JSON for the third, to the session engine; then traces, health series,
observed call edges, records and templates are read back through the REST API.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import secrets
import time
import zlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from aiops.auth.roles import Role
from tests.conftest import RunningEngine, wait_for

pytestmark = pytest.mark.engine

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def new_tenant(engine: RunningEngine) -> tuple[str, str]:
    """A fresh tenant and one of its ingestion keys."""
    tenant = f"otel-{secrets.token_hex(3)}"
    response = engine.http.post("/api/v1/tenants", json={"tenant_id": tenant, "name": "Otel", "plan": "pro"},
                                headers=engine.auth(tenant="root", role=Role.SUPER_ADMIN))
    assert response.status_code == 201, response.text
    return tenant, engine.create_key("ingestion", tenant=tenant)[1]


def read(engine: RunningEngine, tenant: str, path: str, **params) -> httpx.Response:
    return engine.http.get(path, params=params, headers=engine.auth(tenant=tenant, role=Role.VIEWER))


def spans_request(service: str, count: int, *, start_ns: int,
                  trace_id: bytes | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    scope = resource_spans.scope_spans.add()
    for i in range(count):
        span = scope.spans.add(trace_id=trace_id or os.urandom(16), span_id=os.urandom(8), name=f"op-{i % 3}",
                               kind=2, start_time_unix_nano=start_ns + i * 1000,
                               end_time_unix_nano=start_ns + i * 1000 + 2_000_000)
        span.attributes.append(KeyValue(key="i", value=AnyValue(int_value=i)))
    return request


def trace_count(engine: RunningEngine, tenant: str, service: str) -> int:
    response = read(engine, tenant, "/api/v1/traces", service_id=service, limit=1000,
                    since=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    assert response.status_code == 200, response.text
    return sum(trace["spans"] for trace in response.json()["traces"])


# -- the real SDK ----------------------------------------------------------------------------------
def _shop(base_url: str, key: str, start_ns: int) -> dict:
    """The instrumented program: frontend -> payments -> postgres (uninstrumented), with logs and metrics.

    frontend exports protobuf (its spans gzipped), payments exports JSON. Spans are stamped from
    ``start_ns`` (explicit start and end times, an SDK feature) so their minute is already closed.
    """
    from opentelemetry import trace
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogExporter
    from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter as JsonMetricExporter
    from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonSpanExporter
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    headers = {"X-API-Key": key}
    gzip_protobuf = {"compression": Compression.Gzip}
    exporters = {
        "protobuf": (OTLPSpanExporter, OTLPMetricExporter, OTLPLogExporter),
        "json": (JsonSpanExporter, JsonMetricExporter, JsonLogExporter),
    }
    providers = {}
    for service, encoding in (("frontend", "protobuf"), ("payments", "json")):
        spans, metrics, logs = exporters[encoding]
        resource = Resource.create({"service.name": service})
        tracer_provider = TracerProvider(resource=resource)
        options = gzip_protobuf if encoding == "protobuf" else {}  # frontend's spans travel gzipped
        tracer_provider.add_span_processor(BatchSpanProcessor(spans(endpoint=f"{base_url}/v1/traces",
                                                                    headers=headers, **options)))
        reader = PeriodicExportingMetricReader(metrics(endpoint=f"{base_url}/v1/metrics", headers=headers),
                                               export_interval_millis=3_600_000)
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs(endpoint=f"{base_url}/v1/logs",
                                                                              headers=headers)))
        providers[service] = (tracer_provider, meter_provider, logger_provider)

    front_tracer = providers["frontend"][0].get_tracer("shop")
    pay_tracer = providers["payments"][0].get_tracer("shop")
    pay_logger = providers["payments"][2].get_logger("shop")
    orders = providers["frontend"][1].get_meter("shop").create_counter("orders_total")
    latency = providers["frontend"][1].get_meter("shop").create_histogram("checkout_latency_ms")
    trace_ids = []
    ms = 1_000_000
    for i in range(6):
        t0 = start_ns + i * 100 * ms
        root = front_tracer.start_span("GET /checkout", kind=SpanKind.SERVER, start_time=t0)
        context = trace.set_span_in_context(root)
        call = front_tracer.start_span("POST /pay", kind=SpanKind.CLIENT, context=context, start_time=t0 + ms)
        served = pay_tracer.start_span("POST /pay", kind=SpanKind.SERVER, context=trace.set_span_in_context(call),
                                       start_time=t0 + 2 * ms)
        query = pay_tracer.start_span("SELECT orders", kind=SpanKind.CLIENT, start_time=t0 + 3 * ms,
                                      context=trace.set_span_in_context(served),
                                      attributes={"peer.service": "postgres", "db.system": "postgresql"})
        query.end(end_time=t0 + 13 * ms)
        declined = i % 3 == 0
        if declined:
            served.set_status(Status(StatusCode.ERROR, "card declined"))
            pay_logger.emit(timestamp=t0 + 14 * ms, severity_number=SeverityNumber.ERROR, severity_text="ERROR",
                            body=f"card declined by issuer for order {1000 + i}",
                            context=trace.set_span_in_context(served))
        else:
            pay_logger.emit(timestamp=t0 + 14 * ms, severity_number=SeverityNumber.INFO, severity_text="INFO",
                            body=f"payment accepted order {1000 + i}", context=trace.set_span_in_context(served))
        served.end(end_time=t0 + 15 * ms)
        call.end(end_time=t0 + 16 * ms)
        root.end(end_time=t0 + 20 * ms + i * ms)
        orders.add(1, {"outcome": "declined" if declined else "paid"})
        latency.record(20 + i)
        trace_ids.append(format(root.get_span_context().trace_id, "032x"))
    # Each signal of both services at once: a minute is rolled up once nothing of it arrived for a while.
    for kind in range(3):
        for service_providers in providers.values():
            assert service_providers[kind].force_flush(30_000)
    for service_providers in providers.values():
        for provider in service_providers:
            provider.shutdown()
    return {"trace_ids": trace_ids}


@pytest.mark.reliability(
    fault="the OpenTelemetry Python SDK's own OTLP/HTTP exporters (protobuf and JSON) send spans, metrics and logs",
    promise="traces, span health series, observed call edges, metric series, log records and templates read back",
)
def test_the_real_sdk_exports_traces_metrics_and_logs(engine: RunningEngine, record_property) -> None:
    tenant, key = new_tenant(engine)
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    start_ns = int(minute.timestamp() * 1e9) + 5_000_000_000
    shop = _shop(f"http://127.0.0.1:{engine.settings.http_port}", key, start_ns)

    # One trace as a tree: frontend's server span -> its client call -> payments' server span -> the db call.
    trace = read(engine, tenant, f"/api/v1/traces/{shop['trace_ids'][0]}")
    assert trace.status_code == 200, trace.text
    body = trace.json()
    assert body["spans"] == 4 and body["services"] == ["frontend", "payments"]
    (root,) = body["roots"]
    assert (root["service_id"], root["operation"], root["kind"]) == ("frontend", "GET /checkout", "server")
    (call,) = root["children"]
    (served,) = call["children"]
    assert (served["service_id"], served["kind"], served["status"]) == ("payments", "server", "error")
    assert served["children"][0]["attributes"]["peer.service"] == "postgres"
    listed = read(engine, tenant, "/api/v1/traces", service_id="payments", since=minute.isoformat()).json()["traces"]
    assert {t["trace_id"] for t in listed} == set(shop["trace_ids"])

    # Health series of the minute, through /api/v1/series.
    window = {"since": (minute - timedelta(minutes=1)).isoformat(),
              "until": (minute + timedelta(minutes=2)).isoformat()}

    def series(service: str, metric: str, **labels) -> list:
        found = read(engine, tenant, "/api/v1/series", service_id=service, metric_name=metric, **window).json()
        return [s["points"] for s in found["series"] if all(s["labels"].get(k) == v for k, v in labels.items())]

    requests = wait_for(lambda: series("frontend", "span_requests_per_minute"), timeout=60,
                        what="frontend's request rate from its spans")
    assert requests == [[[minute.timestamp(), 6.0]]]
    assert series("payments", "span_error_rate") == [[[minute.timestamp(), pytest.approx(2 / 6)]]]
    assert series("payments", "span_requests_per_minute") == [[[minute.timestamp(), 6.0]]]
    p99 = series("frontend", "span_latency_p99_ms")[0][0][1]
    assert 20.0 <= p99 <= 25.0
    # payments' server spans last 13 ms, of which the db call takes 10: 3 ms of its own (the client span has 10).
    assert series("payments", "span_self_time_ms")[0][0][1] == pytest.approx((3 + 10) / 2, abs=0.01)

    # Observed call edges, next to the declared ones.
    topology = read(engine, tenant, "/api/v1/topology", since=(minute - timedelta(minutes=5)).isoformat()).json()
    observed = {(e["caller"], e["callee"]): e for e in topology["edges"] if e["source"] == "observed"}
    assert set(observed) == {("frontend", "payments"), ("payments", "postgres")}
    assert observed[("frontend", "payments")]["calls"] == 6 and observed[("frontend", "payments")]["errors"] == 2
    assert observed[("frontend", "payments")]["latency_ms_mean"] == pytest.approx(15.0)
    assert observed[("payments", "postgres")]["calls"] == 6

    # Metrics (protobuf from frontend): a monotonic sum per attribute set, a histogram's count and quantiles.
    now = {"since": (datetime.now(UTC) - timedelta(minutes=10)).isoformat()}
    orders = read(engine, tenant, "/api/v1/series", service_id="frontend", metric_name="orders_total", **now).json()
    assert {s["labels"]["outcome"]: s["points"][-1][1] for s in orders["series"]} == {"declined": 2.0, "paid": 4.0}
    count = read(engine, tenant, "/api/v1/series", service_id="frontend", metric_name="checkout_latency_ms_count",
                 **now).json()["series"]
    assert count[0]["points"][-1][1] == 6.0
    quantiles = read(engine, tenant, "/api/v1/series", service_id="frontend", metric_name="checkout_latency_ms",
                     **now).json()["series"]
    assert {s["labels"]["quantile"] for s in quantiles} == {"0.5", "0.95", "0.99"}

    # Logs (JSON from payments): records with their trace ids, then their templates once mined.
    logs = wait_for(lambda: (found := read(engine, tenant, "/api/v1/logs", service_id="payments", **window).json())
                    ["templates"] and found, timeout=60, what="log templates mined")
    assert len(logs["logs"]) == 6
    assert {r["trace_id"] for r in logs["logs"]} == set(shop["trace_ids"])
    # Drain groups by token count first, so the two kinds of message are two templates.
    assert {t["template"]: t["records"] for t in logs["templates"]} == {
        "card declined by issuer for order <*>": 2, "payment accepted order <*>": 4}
    errors = read(engine, tenant, "/api/v1/logs", service_id="payments", severity="ERROR", **window).json()
    assert [r["body"] for r in errors["logs"]] == ["card declined by issuer for order 1003",
                                                   "card declined by issuer for order 1000"]
    assert errors["logs"][0]["template"] == "card declined by issuer for order <*>"
    assert series("payments", "log_records_per_minute", severity="ERROR") == [[[minute.timestamp(), 2.0]]]
    assert series("payments", "log_new_templates_per_minute") == [[[minute.timestamp(), 2.0]]]
    record_property("measured", "4-span traces, 6 requests, 2 services + 1 uninstrumented callee, "
                                "protobuf and JSON exporters: all read back")


# -- protocol answers ------------------------------------------------------------------------------
def gzip_of_zeros(size: int) -> bytes:
    """``size`` zero bytes gzipped, made a megabyte at a time."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    parts = [deflate.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + deflate.flush()


@pytest.mark.reliability(fault="the same OTLP request sent again (a client retry), plain and gzip",
                         promise="stored once, counted once in the tenant's events")
def test_a_retried_request_is_stored_once(engine: RunningEngine) -> None:
    tenant, key = new_tenant(engine)
    body = spans_request("retried", 50, start_ns=time.time_ns() - 60_000_000_000).SerializeToString()
    for payload, extra in ((body, {}), (body, {}), (gzip.compress(body), {"Content-Encoding": "gzip"})):
        response = engine.http.post("/v1/traces", content=payload, headers={**PROTOBUF, **extra, "X-API-Key": key})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/x-protobuf"
        assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    assert trace_count(engine, tenant, "retried") == 50
    tenants = engine.http.get("/api/v1/tenants", headers=engine.auth(tenant="root", role=Role.SUPER_ADMIN)).json()
    events = next(t["events_this_month"] for t in tenants["tenants"] if t["tenant_id"] == tenant)
    assert events == 50


def test_malformed_bodies_are_400_and_store_nothing(engine: RunningEngine) -> None:
    tenant, key = new_tenant(engine)
    good = spans_request("malformed", 3, start_ns=time.time_ns() - 60_000_000_000)
    as_json = json_format.MessageToDict(good)
    as_json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "not-hex"
    cases = [
        (b"\x0a\xff\xff\xff\xff\x0f", PROTOBUF),  # a length running past the end
        (good.SerializeToString()[:-7], PROTOBUF),  # cut short
        (b'{"resourceSpans": [', JSON),
        (b'{"resourceSpans": "\\ud800"}', JSON),  # a lone surrogate
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}', JSON),
        (json_format.MessageToJson(good).encode().replace(b'"resourceSpans"', b'"resourceSpans": 7, "x"'), JSON),
        (json.dumps(as_json).encode(), JSON),  # a trace id that is not hex
        (b"\x1f\x8b\x08\x00garbage", {**PROTOBUF, "Content-Encoding": "gzip"}),
    ]
    for payload, headers in cases:
        response = engine.http.post("/v1/traces", content=payload, headers={**headers, "X-API-Key": key})
        assert response.status_code == 400, (payload[:60], response.text)
        status = (status_pb2.Status.FromString(response.content)
                  if response.headers["content-type"] == "application/x-protobuf"
                  else json_format.Parse(response.content, status_pb2.Status()))
        assert status.code == 3 and status.message, payload[:60]  # INVALID_ARGUMENT, saying what is wrong
    for path, payload in (("/v1/logs", b"\x0a\xff\xff\xff\xff\x0f"), ("/v1/metrics", b'{"resourceMetrics": {')):
        headers = JSON if payload.startswith(b"{") else PROTOBUF
        assert engine.http.post(path, content=payload, headers={**headers, "X-API-Key": key}).status_code == 400
    assert trace_count(engine, tenant, "malformed") == 0
    assert read(engine, tenant, "/api/v1/logs").json()["logs"] == []


@pytest.mark.reliability(fault="a gzip bomb (1 GiB of zeros in 1 MB), one lying about its size, an oversized body",
                         promise="413 before anything is inflated past the limit; nothing stored")
def test_gzip_bombs_and_oversized_bodies_are_413(engine: RunningEngine, record_property) -> None:
    tenant, key = new_tenant(engine)
    headers = {**PROTOBUF, "Content-Encoding": "gzip", "X-API-Key": key}
    bomb = gzip_of_zeros(1 << 30)
    began = time.perf_counter()
    response = engine.http.post("/v1/traces", content=bomb, headers=headers)
    honest = time.perf_counter() - began
    assert response.status_code == 413, response.text
    limit = engine.settings.otlp.max_decompressed_bytes
    liar = gzip_of_zeros(4 * limit)[:-4] + (100).to_bytes(4, "little")  # its trailer claims 100 bytes
    response = engine.http.post("/v1/traces", content=liar, headers=headers)
    assert response.status_code == 413 and b"inflates to more than" in response.content
    big = b"\0" * (engine.settings.otlp.max_body_bytes + 1)
    response = engine.http.post("/v1/logs", content=big, headers={**PROTOBUF, "X-API-Key": key})
    assert response.status_code == 413
    assert trace_count(engine, tenant, "bomb") == 0
    record_property("measured", f"1 GiB gzip bomb answered 413 in {honest * 1000:.0f} ms")


def test_partial_success_counts_what_was_refused(engine: RunningEngine) -> None:
    tenant, key = new_tenant(engine)
    now = time.time_ns()
    request = spans_request("partial", 10, start_ns=now - 60_000_000_000)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\0" * 16  # all-zero: invalid
    spans[1].span_id = b"\1" * 4  # wrong length
    spans[2].start_time_unix_nano = now - 30 * 86_400 * 10**9  # older than ingest.max_past_seconds
    spans[2].end_time_unix_nano = spans[2].start_time_unix_nano + 1
    for encoding, payload in (("protobuf", request.SerializeToString()), ("json", None)):
        if encoding == "json":
            payload = _otlp_json(request)
        headers = {**(PROTOBUF if encoding == "protobuf" else JSON), "X-API-Key": key}
        response = engine.http.post("/v1/traces", content=payload, headers=headers)
        assert response.status_code == 200, response.text
        if encoding == "protobuf":
            partial = ExportTraceServiceResponse.FromString(response.content).partial_success
            assert partial.rejected_spans == 3
            assert "trace id" in partial.error_message and "too long ago" in partial.error_message
        else:
            assert response.json()["partialSuccess"]["rejectedSpans"] == "3"
    assert trace_count(engine, tenant, "partial") == 7
    # Log records and data points too.
    logs = ExportLogsServiceRequest()
    scope = logs.resource_logs.add().scope_logs.add()
    scope.log_records.add(time_unix_nano=now, body=AnyValue(string_value="fine"))
    scope.log_records.add(time_unix_nano=now, body=AnyValue(string_value="bad"), trace_id=b"\2" * 3)
    response = engine.http.post("/v1/logs", content=logs.SerializeToString(), headers={**PROTOBUF, "X-API-Key": key})
    assert ExportLogsServiceResponse.FromString(response.content).partial_success.rejected_log_records == 1
    metrics = {"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name",
                                                                 "value": {"stringValue": "partial"}}]},
                                    "scopeMetrics": [{"metrics": [{"name": "queue_depth", "gauge": {"dataPoints": [
                                        {"timeUnixNano": str(now), "asDouble": 3.0},
                                        {"timeUnixNano": str(now + 1), "asDouble": "NaN"},
                                        {"timeUnixNano": "0", "asDouble": 1.0}]}}]}]}]}
    response = engine.http.post("/v1/metrics", json=metrics, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    assert response.json()["partialSuccess"]["rejectedDataPoints"] == "2"
    stored = read(engine, tenant, "/api/v1/series", service_id="partial", metric_name="queue_depth").json()
    assert [p[1] for p in stored["series"][0]["points"]] == [3.0]


def _otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP JSON: protobuf's JSON mapping with hex ids (what the JSON exporters send)."""
    document = json_format.MessageToDict(request)
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for field in ("traceId", "spanId", "parentSpanId"):
                    if field in span:
                        span[field] = base64.b64decode(span[field]).hex()
    return json.dumps(document).encode()


def test_traces_are_tenant_isolated_and_errors_answer_in_otlp_status(engine: RunningEngine) -> None:
    tenant, key = new_tenant(engine)
    trace_id = os.urandom(16)
    body = spans_request("isolated", 2, start_ns=time.time_ns() - 60_000_000_000, trace_id=trace_id)
    assert engine.http.post("/v1/traces", content=body.SerializeToString(),
                            headers={**PROTOBUF, "X-API-Key": key}).status_code == 200
    assert read(engine, tenant, f"/api/v1/traces/{trace_id.hex()}").status_code == 200
    other = read(engine, "globex", f"/api/v1/traces/{trace_id.hex()}")
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    assert read(engine, "globex", "/api/v1/traces", service_id="isolated").json()["traces"] == []
    assert read(engine, tenant, "/api/v1/traces/not-a-trace-id").status_code == 404
    # Credentials are checked before the body is read; errors come as OTLP's Status in the request's encoding.
    refused = engine.http.post("/v1/traces", content=b"\0" * 1000, headers=PROTOBUF)
    assert refused.status_code == 401 and status_pb2.Status.FromString(refused.content).code == 16
    _, read_key = engine.create_key("read", tenant=tenant)
    refused = engine.http.post("/v1/traces", content=b"{}", headers={**JSON, "X-API-Key": read_key})
    assert refused.status_code == 403 and refused.json()["code"] == 7
    refused = engine.http.post("/v1/traces", content=b"x", headers={"Content-Type": "text/plain", "X-API-Key": key})
    assert refused.status_code == 415 and refused.json()["message"].startswith("Content-Type must be")
    refused = engine.http.post("/v1/traces", content=b"x", headers={**PROTOBUF, "Content-Encoding": "br",
                                                                   "X-API-Key": key})
    assert refused.status_code == 415
    empty = engine.http.post("/v1/metrics", content=ExportMetricsServiceRequest().SerializeToString(),
                             headers={**PROTOBUF, "X-API-Key": key})
    assert empty.status_code == 200 and empty.content == b""


def test_over_the_plan_rate_is_429_with_retry_after(engine: RunningEngine) -> None:
    """Spans are events of the tenant's plan: past its points_per_second the exporter is told to retry."""
    tenant = f"otel-tiny-{secrets.token_hex(3)}"
    response = engine.http.post("/api/v1/tenants", json={"tenant_id": tenant, "name": "Tiny", "plan": "tiny"},
                                headers=engine.auth(tenant="root", role=Role.SUPER_ADMIN))
    assert response.status_code == 201, response.text
    key = engine.create_key("ingestion", tenant=tenant)[1]
    burst = 2 * int(engine.settings.plans["tiny"].points_per_second)
    start_ns = time.time_ns() - 60_000_000_000
    answers = [engine.http.post("/v1/traces", headers={**PROTOBUF, "X-API-Key": key},
                                content=spans_request("tiny", burst * 2 // 3, start_ns=start_ns).SerializeToString())
               for _ in range(2)]
    assert answers[0].status_code == 200
    assert answers[1].status_code == 429 and int(answers[1].headers["retry-after"]) >= 1
    assert status_pb2.Status.FromString(answers[1].content).code == 8  # RESOURCE_EXHAUSTED
    too_big = engine.http.post("/v1/traces", headers={**PROTOBUF, "X-API-Key": key},
                               content=spans_request("tiny", burst + 1, start_ns=start_ns).SerializeToString())
    assert too_big.status_code == 413  # counted before a single span was decoded
    assert "export smaller batches" in status_pb2.Status.FromString(too_big.content).message
    assert trace_count(engine, tenant, "tiny") == burst * 2 // 3


# -- the hardening rules (issue #19) on the OTLP receivers and the telemetry reads ----------------
def gauge_request(service: str, points: list[tuple[int, float]], attributes: list[tuple[str, str]] = (),
                  name: str = "m") -> bytes:
    """One gauge of ``service``: ``(unix seconds, value)`` points, each with ``attributes``."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    gauge = resource.scope_metrics.add().metrics.add(name=name).gauge
    for at, value in points:
        point = gauge.data_points.add(time_unix_nano=at * 10**9, as_double=value)
        point.attributes.extend(KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attributes)
    return request.SerializeToString()


def series_points(engine: RunningEngine, tenant: str, service: str, since: int, until: int) -> list:
    response = read(engine, tenant, "/api/v1/series", service_id=service, since=since, until=until)
    assert response.status_code == 200, response.text
    return [point for series in response.json()["series"] for point in series["points"]]


@pytest.mark.reliability(
    fault="an OTLP gauge re-sending a stored point with another value (the report's [[T, 50]] then [[T, 500]]), "
          "next to a new point",
    promise="first write wins, as on every path: the changed point is refused in partial_success naming it, the "
            "new one stored; /api/v1/series keeps 50; the JSON path answers the same change 409",
    kind="10 overwrites",
)
def test_otlp_points_follow_the_first_write_rule(engine: RunningEngine, record_property) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

    tenant, key = new_tenant(engine)
    start = (int(time.time()) // 60) * 60 - 300
    headers = {**PROTOBUF, "X-API-Key": key}
    first = engine.http.post("/v1/metrics", content=gauge_request("ow", [(start, 50.0)]), headers=headers)
    assert first.status_code == 200 and first.content == b""
    second = engine.http.post("/v1/metrics", content=gauge_request("ow", [(start, 500.0), (start + 60, 1.0)]),
                              headers=headers)
    assert second.status_code == 200, second.text
    partial = ExportMetricsServiceResponse.FromString(second.content).partial_success
    assert partial.rejected_data_points == 1 and "500 differs from the stored 50" in partial.error_message
    assert series_points(engine, tenant, "ow", start, start + 120) == [[start, 50.0], [start + 60, 1.0]]
    again = engine.http.post("/api/v1/ingest/metrics", headers={**JSON, "X-API-Key": key},
                             json={"series": [{"service_id": "ow", "metric_name": "m", "points": [[start, 500.0]]}]})
    assert again.status_code == 409, again.text
    record_property("measured", f"OTLP: 200, rejected_data_points 1 ({partial.error_message[:90]}...), the new "
                                "point stored; series keeps 50; JSON: 409")


@pytest.mark.reliability(
    fault="OTLP metrics with a value of 1e200, an attribute named twice, half an emoji in OTLP JSON, a protobuf "
          "string that is not UTF-8, more items than a request may hold",
    promise="1e200 refused in partial_success (not a 500, not stored); the repeated attribute and the text that "
            "is not text a 400 naming where; too many items 413 before decoding them; all as google.rpc.Status",
    kind="6 label sets",
)
def test_otlp_values_label_sets_and_text(engine: RunningEngine, record_property) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

    tenant, key = new_tenant(engine)
    start = (int(time.time()) // 60) * 60 - 300
    headers = {**PROTOBUF, "X-API-Key": key}
    huge = engine.http.post("/v1/metrics", content=gauge_request("edge", [(start, 1e200), (start + 10, 2.0)]),
                            headers=headers)
    partial = ExportMetricsServiceResponse.FromString(huge.content).partial_success
    assert huge.status_code == 200 and partial.rejected_data_points == 1 and "1e+150" in partial.error_message
    twice = engine.http.post("/v1/metrics", headers=headers,
                             content=gauge_request("labels", [(start, 1.0)], [("az", "1"), ("az", "2")]))
    twice_status = status_pb2.Status.FromString(twice.content)
    assert twice.status_code == 400 and "label 'az' appears more than once" in twice_status.message
    assert "dataPoints[0]" in twice_status.message
    half = (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "%d", '
            b'"body": {"stringValue": "half \\ud83d"}}]}]}]}' % (start * 10**9))
    text = engine.http.post("/v1/logs", content=half, headers={**JSON, "X-API-Key": key})
    assert text.status_code == 400 and "logRecords[0].body.stringValue: not text" in text.json()["message"]
    not_utf8 = gauge_request("labels", [(start, 1.0)], [("az", "PLACEHOLDER")]).replace(b"PLACEHOLDER",
                                                                                          b"\xed\xa0\xbd-half")
    assert engine.http.post("/v1/metrics", content=not_utf8, headers=headers).status_code == 400
    many = engine.settings.otlp.max_items_per_request + 1
    too_many = engine.http.post("/v1/logs", headers={**JSON, "X-API-Key": key}, content=json.dumps(
        {"resourceLogs": [{"scopeLogs": [{"logRecords": [{}] * many}]}]}).encode())
    assert too_many.status_code == 413 and f"{many} log records" in too_many.json()["message"]
    assert series_points(engine, tenant, "edge", start, start + 60) == [[start + 10, 2.0]]
    assert series_points(engine, tenant, "labels", start, start + 60) == []
    assert read(engine, tenant, "/api/v1/logs", since=start - 60).json()["logs"] == []
    record_property("measured", f"1e200: 200 with rejected_data_points 1; repeated attribute: 400 "
                                f"({twice_status.message[:80]}...); half an emoji: 400 naming the field; "
                                f"non-UTF-8 protobuf: 400; {many:,} records: 413")


@pytest.mark.reliability(
    fault="crafted since/until on the telemetry reads (/api/v1/traces, /api/v1/logs, /api/v1/topology): years "
          "1900 and 2299 (past what span timestamps hold), year 10000, huge numbers; huge limits and trace ids",
    promise="a clean 4xx naming the parameter, or 200 for a window storage can answer; never a 500",
    kind="9 numbers at the edge",
)
def test_telemetry_reads_refuse_crafted_values(engine: RunningEngine, record_property) -> None:
    from tests.deployments.test_internals import assert_no_internals

    tenant, _ = new_tenant(engine)
    answers = {}
    for path in ("/api/v1/traces", "/api/v1/logs", "/api/v1/topology"):
        wide = read(engine, tenant, path, since="1900-01-02T00:00:00Z", until="2299-12-29T00:00:00Z")
        assert wide.status_code == 200, (path, wide.text)  # cut to what storage holds, not a 500
        late = read(engine, tenant, path, since="2270-01-01T00:00:00Z", until="2299-12-29T00:00:00Z")
        assert late.status_code == 200, (path, late.text)
        for params in ({"until": "10000-01-01T00:00:00Z"}, {"since": str(10**30)}, {"since": "-1e30"},
                       {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}):
            refused = read(engine, tenant, path, **params)
            assert refused.status_code == 422, (path, params, refused.status_code, refused.text)
            assert_no_internals(refused.text)
        answers[path] = (wide.status_code, late.status_code)
    for path in ("/api/v1/traces", "/api/v1/logs"):
        assert read(engine, tenant, path, limit=10**12).status_code == 422
    assert read(engine, tenant, "/api/v1/traces/" + "a" * 10_000).status_code in (404, 422)
    record_property("measured", f"1900..2299 and 2270..2299 windows: {answers}; year 10000, ±1e30, since after "
                                "until, limit 1e12: all 422")
