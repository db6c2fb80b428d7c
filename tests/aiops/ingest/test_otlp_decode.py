"""OTLP decoding: both encodings, single items refused and counted, attribute bounds, metric types."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import time

import numpy as np
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from aiops.errors import BadRequest, UnsupportedMediaType
from aiops.ingest.builder import BatchBuilder
from aiops.ingest.otlp.common import OtlpLimits
from aiops.ingest.otlp.logs import decode_logs
from aiops.ingest.otlp.metrics import bucket_quantile, decode_metrics
from aiops.ingest.otlp.traces import decode_spans
from aiops.ingest.otlp.wire import Encoding, encoding_of, parse_request, serialize, status_body

NOW = time.time_ns()
LIMITS = OtlpLimits.around(NOW, 3600, 300, max_attributes=4, max_attribute_value_chars=8, max_log_body_chars=20)
TRACE = bytes(range(1, 17))


def otlp_json(message) -> bytes:
    """OTLP's JSON: protobuf's mapping, ids in hex (as the OTLP JSON exporters write them)."""
    document = json_format.MessageToDict(message)

    def hexify(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    node[key] = base64.b64decode(value).hex()
                else:
                    hexify(value)
        elif isinstance(node, list):
            for item in node:
                hexify(item)

    hexify(document)
    return json.dumps(document).encode()


def traces(*spans: dict, service: str = "checkout") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    if service:
        resource.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    scope = resource.scope_spans.add()
    for i, fields in enumerate(spans):
        span = {"trace_id": TRACE, "span_id": bytes([9] * 7 + [i + 1]), "name": "GET /cart", "kind": 2,
                "start_time_unix_nano": NOW - 1_000_000_000, "end_time_unix_nano": NOW - 990_000_000, **fields}
        scope.spans.add(**span)
    return request


def test_protobuf_and_json_decode_to_the_same_rows() -> None:
    request = traces({"parent_span_id": bytes(range(8, 0, -1))}, {})
    request.resource_spans[0].scope_spans[0].spans[0].attributes.append(
        KeyValue(key="http.route", value=AnyValue(string_value="/cart")))
    from_protobuf = decode_spans(parse_request(request.SerializeToString(), Encoding.PROTOBUF,
                                               ExportTraceServiceRequest), LIMITS).spans
    from_json = decode_spans(parse_request(otlp_json(request), Encoding.JSON, ExportTraceServiceRequest),
                             LIMITS).spans
    assert from_protobuf.equals(from_json)
    rows = from_protobuf.to_pylist()
    assert rows[0]["trace_id"] == TRACE.hex() and rows[0]["parent_span_id"] == "0807060504030201"
    assert rows[1]["parent_span_id"] == "" and rows[0]["duration_ns"] == 10_000_000
    assert rows[0]["attributes"] == [("http.route", "/cart")] and rows[0]["service"] == "checkout"


def test_otlp_json_ignores_unknown_fields_and_takes_original_names() -> None:
    body = json.dumps({"resource_spans": [{"scopeSpans": [{"spans": [{
        "traceId": TRACE.hex(), "span_id": "0102030405060708", "name": "x", "kind": 3,
        "startTimeUnixNano": str(NOW), "endTimeUnixNano": NOW + 5, "futureField": {"a": 1}}]}],
        "someday": True}]}).encode()
    decoded = decode_spans(parse_request(body, Encoding.JSON, ExportTraceServiceRequest), LIMITS)
    row = decoded.spans.to_pylist()[0]
    assert (row["service"], row["kind"], row["duration_ns"]) == ("unknown_service", 3, 5)


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"resourceSpans": 3}', b'{"resourceSpans": "\\udc00"}',
                                  b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}'])
def test_malformed_json_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_request(body, Encoding.JSON, ExportTraceServiceRequest)


def test_malformed_protobuf_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="ExportTraceServiceRequest"):
        parse_request(b"\x0a\x05\x01", Encoding.PROTOBUF, ExportTraceServiceRequest)


def test_content_types_and_status_answers() -> None:
    assert encoding_of("application/x-protobuf") is Encoding.PROTOBUF
    assert encoding_of("Application/JSON; charset=utf-8") is Encoding.JSON
    with pytest.raises(UnsupportedMediaType):
        encoding_of("text/plain")
    status = status_pb2.Status.FromString(status_body(429, "slow down", Encoding.PROTOBUF))
    assert (status.code, status.message) == (8, "slow down")  # RESOURCE_EXHAUSTED
    assert json.loads(status_body(400, "bad", Encoding.JSON)) == {"code": 3, "message": "bad"}
    assert serialize(ExportTraceServiceRequest(), Encoding.JSON) == b"{}"


def test_bad_spans_are_refused_one_by_one_and_counted() -> None:
    decoded = decode_spans(traces(
        {},
        {"trace_id": bytes(16)},  # all zero
        {"span_id": b"\1\2"},  # short
        {"parent_span_id": b"\1"},
        {"end_time_unix_nano": NOW - 2_000_000_000},  # ends before it starts
        {"start_time_unix_nano": NOW - 7200 * 10**9, "end_time_unix_nano": NOW},  # older than the window
        {"start_time_unix_nano": NOW + 3600 * 10**9, "end_time_unix_nano": NOW + 3601 * 10**9},
    ), LIMITS)
    assert decoded.count == 1 and decoded.rejections.count == 6
    message = decoded.rejections.message()
    for reason in ("trace id", "span id", "parent span id", "end before", "too long ago", "future"):
        assert reason in message
    too_long = decode_spans(traces({}, service="s" * 300), LIMITS)
    assert too_long.spans is None and "service.name" in too_long.rejections.message()


def test_attributes_are_bounded_and_rendered_as_text() -> None:
    request = traces({})
    attributes = request.resource_spans[0].scope_spans[0].spans[0].attributes
    for key, value in (("s", AnyValue(string_value="long string value")), ("b", AnyValue(bool_value=True)),
                       ("i", AnyValue(int_value=-7)), ("a", AnyValue(array_value=ArrayValue(values=[
                           AnyValue(int_value=1), AnyValue(string_value="x")]))),
                       ("dropped", AnyValue(string_value="fifth"))):
        attributes.append(KeyValue(key=key, value=value))
    row = decode_spans(request, LIMITS).spans.to_pylist()[0]
    assert dict(row["attributes"]) == {"s": "long str", "b": "true", "i": "-7", "a": '[1,"x"]'}


def test_log_records_keep_level_time_and_body() -> None:
    request = ExportLogsServiceRequest()
    resource = request.resource_logs.add()
    resource.resource.attributes.add(key="service.name", value=AnyValue(string_value="payments"))
    scope = resource.scope_logs.add()
    scope.log_records.add(time_unix_nano=NOW, severity_number=18, body=AnyValue(string_value="card declined, code 51"),
                          trace_id=TRACE, span_id=b"\1" * 8)
    scope.log_records.add(observed_time_unix_nano=NOW - 5, severity_text="warning",
                          body=AnyValue(kvlist_value=KeyValueList(values=[
                              KeyValue(key="k", value=AnyValue(string_value="v"))])))
    scope.log_records.add(body=AnyValue(string_value="no time at all"))
    scope.log_records.add(time_unix_nano=NOW, trace_id=b"\1" * 5)  # refused: a 5-byte trace id
    decoded = decode_logs(request, dataclasses.replace(LIMITS, now_ns=NOW - 10))
    rows = decoded.logs.to_pylist()
    assert decoded.rejections.count == 1
    assert [(r["severity"], r["severity_number"]) for r in rows] == [("ERROR", 18), ("WARN", 13), ("UNSPECIFIED", 0)]
    assert rows[0]["body"] == "card declined, code " and rows[0]["trace_id"] == TRACE.hex()  # cut at 20 chars
    assert rows[1]["body"] == '{"k":"v"}' and rows[1]["trace_id"] == "" and rows[1]["service"] == "payments"
    assert [r["timestamp"].value for r in rows] == [NOW, NOW - 5, NOW - 10]


def metrics_request() -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="service.name", value=AnyValue(string_value="cart"))
    scope = resource.scope_metrics.add()
    gauge = scope.metrics.add(name="queue_depth")
    gauge.gauge.data_points.add(time_unix_nano=NOW, as_int=4,
                                attributes=[KeyValue(key="queue", value=AnyValue(string_value="a"))])
    gauge.gauge.data_points.add(time_unix_nano=NOW, as_double=math.nan)  # refused
    gauge.gauge.data_points.add(time_unix_nano=NOW, as_double=1.0, flags=1)  # no recorded value: skipped
    total = scope.metrics.add(name="requests_total")
    total.sum.is_monotonic = True
    total.sum.aggregation_temporality = 2
    total.sum.data_points.add(time_unix_nano=NOW, as_double=120.0)
    histogram = scope.metrics.add(name="latency_ms")
    histogram.histogram.data_points.add(time_unix_nano=NOW, count=100, sum=2500.0, explicit_bounds=[10, 20, 50],
                                        bucket_counts=[50, 40, 10, 0])
    summary = scope.metrics.add(name="rtt")
    point = summary.summary.data_points.add(time_unix_nano=NOW, count=3, sum=6.0)
    point.quantile_values.add(quantile=0.5, value=2.0)
    exponential = scope.metrics.add(name="size")
    point = exponential.exponential_histogram.data_points.add(time_unix_nano=NOW, count=4, sum=10.0, scale=0)
    point.positive.offset = 0
    point.positive.bucket_counts.extend([2, 2])  # (1, 2] and (2, 4]
    return request


def test_metrics_become_ordinary_series() -> None:
    builder = BatchBuilder(now_ms=NOW // 1_000_000, max_past_seconds=3600, max_future_seconds=300)
    decoded = decode_metrics(metrics_request(), LIMITS, builder)
    assert decoded.rejections.count == 1 and decoded.skipped == 1
    batch = decoded.batch
    values = {(name, tuple(sorted(labels.items()))): float(batch.values[batch.series_index == i][0])
              for i, (name, labels) in enumerate(zip(batch.metric_names, batch.labels, strict=True))}
    assert set(batch.service_ids) == {"cart"}
    assert values[("queue_depth", (("queue", "a"),))] == 4.0
    assert values[("requests_total", ())] == 120.0
    assert values[("latency_ms_count", ())] == 100.0 and values[("latency_ms_sum", ())] == 2500.0
    assert values[("latency_ms", (("quantile", "0.5"),))] == pytest.approx(10.0)  # the 50th of 100 tops bucket 1
    assert values[("latency_ms", (("quantile", "0.95"),))] == pytest.approx(35.0)  # halfway into (20, 50]
    assert values[("rtt", (("quantile", "0.5"),))] == 2.0 and values[("rtt_count", ())] == 3.0
    assert values[("size", (("quantile", "0.5"),))] == pytest.approx(2.0)
    assert np.all(batch.timestamps_ms == NOW // 1_000_000)


def test_bucket_quantile_interpolates_inside_the_bucket() -> None:
    lower, upper, counts = np.array([0.0, 1.0]), np.array([1.0, 3.0]), np.array([1.0, 3.0])
    assert bucket_quantile(0.25, lower, upper, counts) == pytest.approx(1.0)
    assert bucket_quantile(0.625, lower, upper, counts) == pytest.approx(2.0)
    assert math.isnan(bucket_quantile(0.5, lower, upper, np.zeros(2)))
