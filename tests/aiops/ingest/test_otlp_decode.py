"""OTLP decoding: both encodings, single items refused and counted, attribute bounds, metric types."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import re
import time

import numpy as np
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from aiops.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from aiops.ingest.builder import BatchBuilder, BatchLimits
from aiops.ingest.otlp.common import OtlpLimits
from aiops.ingest.otlp.logs import decode_logs
from aiops.ingest.otlp.metrics import (
    QUANTILES,
    bucket_quantile,
    bucket_quantiles,
    decode_metrics,
    small_bucket_quantiles,
)
from aiops.ingest.otlp.traces import decode_spans
from aiops.ingest.otlp.wire import Encoding, encoding_of, parse_request, serialize, status_body
from tests.properties import PROPERTY

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


def test_small_histograms_get_the_same_quantiles_in_plain_python() -> None:
    @PROPERTY
    @given(counts=st.lists(st.integers(0, 50), min_size=1, max_size=12), width=st.floats(0.1, 100.0))
    def check(counts: list[int], width: float) -> None:
        lower = [i * width for i in range(len(counts))]
        upper = [(i + 1) * width for i in range(len(counts))]
        fast = small_bucket_quantiles(QUANTILES, lower, upper, [float(c) for c in counts])
        slow = bucket_quantiles(np.array(QUANTILES), np.array(lower), np.array(upper), np.array(counts, float))
        assert np.allclose(fast, slow, equal_nan=True)

    check()


def test_bucket_quantile_interpolates_inside_the_bucket() -> None:
    lower, upper, counts = np.array([0.0, 1.0]), np.array([1.0, 3.0]), np.array([1.0, 3.0])
    assert bucket_quantile(0.25, lower, upper, counts) == pytest.approx(1.0)
    assert bucket_quantile(0.625, lower, upper, counts) == pytest.approx(2.0)
    assert math.isnan(bucket_quantile(0.5, lower, upper, np.zeros(2)))


# -- the hardening rules (issue #19) on OTLP metrics, as on the other ingestion paths ----------------
def gauge_request(*points: dict, name: str = "queue_depth", kind: str = "gauge") -> ExportMetricsServiceRequest:
    """One metric of service cart; each point's fields, ``attributes`` as (key, value) pairs."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="service.name", value=AnyValue(string_value="cart"))
    metric = resource.scope_metrics.add().metrics.add(name=name)
    data = getattr(metric, kind)
    for fields in points:
        fields = dict(fields)
        attributes = fields.pop("attributes", ())
        point = data.data_points.add(time_unix_nano=fields.pop("time_unix_nano", NOW), **fields)
        for key, value in attributes:
            point.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    return request


def decode_gauges(request: ExportMetricsServiceRequest, limits: OtlpLimits = LIMITS,
                  batch_limits: BatchLimits | None = None):
    builder = BatchBuilder(now_ms=NOW // 1_000_000, max_past_seconds=3600, max_future_seconds=300)
    return decode_metrics(request, limits, builder, batch_limits)


@pytest.mark.parametrize("attributes, named", [
    ([("az", "1"), ("az", "2")], "label 'az' appears more than once"),
    ([("", "x")], "a label has an empty name"),
])
def test_a_malformed_attribute_set_is_400_naming_metric_point_and_key(attributes, named: str) -> None:
    with pytest.raises(BadRequest) as refused:
        decode_gauges(gauge_request({"as_double": 1.0}, {"as_double": 2.0, "attributes": attributes}))
    message = refused.value.message
    assert named in message and "'queue_depth' of 'cart'" in message and "dataPoints[1]" in message


def test_points_that_cannot_be_stored_as_sent_are_refused_one_by_one() -> None:
    decoded = decode_gauges(gauge_request(
        {"as_double": 1.0, "attributes": [("ok", "a")]},
        {"as_double": 1e200},  # beyond ±1e150
        {"as_double": -math.inf},
        {"as_double": 2.0, "attributes": [(f"k{i}", "v") for i in range(5)]},  # LIMITS: at most 4
        {"as_double": 3.0, "attributes": [("k", "v" * 9)]},  # LIMITS: values of at most 8 characters
        {"as_double": 4.0, "attributes": [("k" * 129, "v")]},  # keys of at most 128
    ))
    assert decoded.batch.points == 1 and decoded.rejections.count == 5
    message = decoded.rejections.message()
    for reason in ("beyond ±1e+150", "not a finite number", "more than 4 attributes", "value over 8 characters",
                   "key over 128 characters"):
        assert reason in message, (reason, message)


def test_a_histogram_point_is_refused_whole_and_its_quantile_label_is_its_own() -> None:
    decoded = decode_gauges(gauge_request(
        {"count": 2, "sum": math.inf, "explicit_bounds": [1.0], "bucket_counts": [1, 1]},
        {"count": 2, "sum": 3.0, "explicit_bounds": [1.0], "bucket_counts": [1, 1], "attributes": [("quantile", "x")]},
        {"count": 2, "sum": 3.0, "explicit_bounds": [1.0], "bucket_counts": [1, 1],
         "time_unix_nano": NOW - 1_000_000},
        name="latency_ms", kind="histogram"))
    assert decoded.rejections.count == 2 and "'quantile' attribute" in decoded.rejections.message()
    assert sorted(set(decoded.batch.metric_names)) == ["latency_ms", "latency_ms_count", "latency_ms_sum"]
    assert decoded.batch.points == 5  # the good point: count, sum and three quantiles


def test_an_exponential_histogram_scale_out_of_range_is_refused_not_a_crash() -> None:
    request = gauge_request({"count": 1, "scale": -2000, "zero_count": 1}, name="size",
                            kind="exponential_histogram")
    decoded = decode_gauges(request)
    assert decoded.batch is None and "malformed buckets (scale -2000" in decoded.rejections.message()


def test_a_second_value_at_the_same_millisecond_is_refused_a_repeat_kept_once() -> None:
    decoded = decode_gauges(gauge_request(
        {"as_double": 1.0}, {"as_double": 1.0, "time_unix_nano": NOW + 5},  # same millisecond, same value
        {"as_double": 7.0, "time_unix_nano": NOW + 9},  # same millisecond, another value
        {"as_double": 2.0, "time_unix_nano": NOW - 1_000_000}))
    assert decoded.batch.points == 2 and decoded.rejections.count == 1
    assert "second value at the same millisecond" in decoded.rejections.message()
    kept = dict(zip(decoded.batch.timestamps_ms.tolist(), decoded.batch.values.tolist(), strict=True))
    assert kept == {NOW // 1_000_000: 1.0, NOW // 1_000_000 - 1: 2.0}  # the first value sent stays


def test_work_is_bounded_before_it_is_done() -> None:
    small = dataclasses.replace(LIMITS, max_items=3)
    with pytest.raises(PayloadTooLarge, match="4 data points in one request; at most 3"):
        decode_gauges(gauge_request(*[{"as_double": 1.0}] * 4), small)
    histograms = gauge_request(*[{"count": 1, "sum": 1.0, "explicit_bounds": [1.0], "bucket_counts": [1, 0],
                                  "time_unix_nano": NOW - i} for i in range(3)], kind="histogram")
    with pytest.raises(PayloadTooLarge, match="make 15 points; at most 10"):
        decode_gauges(histograms, batch_limits=BatchLimits(max_series=100, max_points=10, max_decompressed_bytes=1))
    many_series = gauge_request(*[{"as_double": 1.0, "attributes": [("i", str(i))]} for i in range(6)])
    with pytest.raises(PayloadTooLarge, match="more than 5 series"):
        decode_gauges(many_series, batch_limits=BatchLimits(max_series=5, max_points=100, max_decompressed_bytes=1))
    spans = traces(*[{"span_id": bytes([i + 1] * 8)} for i in range(4)])
    with pytest.raises(PayloadTooLarge, match="4 spans"):
        decode_spans(spans, small)
    logs = ExportLogsServiceRequest()
    for _ in range(4):
        logs.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=NOW)
    with pytest.raises(PayloadTooLarge, match="4 log records"):
        decode_logs(logs, small)


def test_json_items_are_counted_before_json_format_builds_them() -> None:
    body = otlp_json(traces(*[{"span_id": bytes([i + 1] * 8)} for i in range(5)]))
    with pytest.raises(PayloadTooLarge, match="5 spans in one request; at most 4"):
        parse_request(body, Encoding.JSON, ExportTraceServiceRequest, max_items=4)
    metrics = json.dumps({"resource_metrics": [{"scopeMetrics": [{"metrics": [
        {"name": "a", "gauge": {"dataPoints": [{}, {}]}}, {"name": "b", "sum": {"data_points": [{}]}}]}]}]})
    with pytest.raises(PayloadTooLarge, match="3 data points"):
        parse_request(metrics.encode(), Encoding.JSON, ExportMetricsServiceRequest, max_items=2)


@pytest.mark.parametrize("body, named", [
    (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "half \\ud83d"}}]}]}]}',
     "resourceLogs[0].scopeLogs[0].logRecords[0].body.stringValue: not text"),
    (b'{"resourceLogs": [], "resourceLogs": [{"scopeLogs": []}]}', "the key 'resourceLogs' appears more than once"),
])
def test_otlp_json_is_strict_json(body: bytes, named: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(named)):
        parse_request(body, Encoding.JSON, ExportLogsServiceRequest)


def test_protobuf_strings_that_are_not_utf8_are_a_bad_request() -> None:
    request = gauge_request({"as_double": 1.0, "attributes": [("az", "PLACEHOLDER")]})
    body = request.SerializeToString().replace(b"PLACEHOLDER", b"\xed\xa0\xbd-half-an")  # a lone surrogate, as UTF-8
    with pytest.raises(BadRequest, match="ExportMetricsServiceRequest"):
        parse_request(body, Encoding.PROTOBUF, ExportMetricsServiceRequest)


@pytest.mark.reliability(
    fault="OTLP metrics with generated attribute sets (repeated, empty and long keys, long values, 'quantile'), "
          "values (NaN, ±inf, ±1e300, the ±1e150 edge) and times (Hypothesis)",
    promise="every data point is stored, skipped, refused and counted in partial_success, or the request is a 400 "
            "naming the malformed label set; nothing else happens and nothing stored is beyond ±1e150",
    kind="6 label sets",
)
def test_property_otlp_data_points_are_stored_refused_or_a_400(record_property) -> None:
    outcomes = {"stored": 0, "refused": 0, "skipped": 0, "400": 0}
    keys = st.sampled_from(["az", "pod", "", "quantile", "k" * 129])
    values = st.sampled_from([0.0, 1.0, -3.5, 1e150, -1e150, 1.0000001e150, 1e300, math.nan, math.inf, -math.inf])

    @PROPERTY
    @given(kind=st.sampled_from(["gauge", "sum", "histogram", "summary"]),
           points=st.lists(st.tuples(st.lists(st.tuples(keys, st.sampled_from(["a", "b", "v" * 9])), max_size=5),
                                     values, st.integers(-5, 5), st.booleans()), min_size=1, max_size=6))
    def check(kind: str, points) -> None:
        fields = []
        for attributes, value, offset_ms, no_value in points:
            point = {"attributes": attributes, "time_unix_nano": NOW + offset_ms * 1_000_000,
                     "flags": 1 if no_value else 0}
            if kind in ("gauge", "sum"):
                point["as_double"] = value
            elif kind == "histogram":
                point.update(count=2, sum=value, explicit_bounds=[1.0], bucket_counts=[1, 1])
            else:
                point.update(count=2, sum=value)
            fields.append(point)
        try:
            decoded = decode_gauges(gauge_request(*fields, kind=kind))
        except BadRequest as error:
            assert "appears more than once" in error.message or "empty name" in error.message
            outcomes["400"] += 1
            return
        sent = len(fields)
        refused = decoded.rejections.count
        assert refused + decoded.skipped <= sent
        if decoded.batch is not None:
            assert np.all(np.abs(decoded.batch.values) <= 1e150) and np.all(np.isfinite(decoded.batch.values))
            outcomes["stored"] += decoded.batch.points
        outcomes["refused"] += refused
        outcomes["skipped"] += decoded.skipped

    check()
    record_property("measured", f"generated requests: {outcomes['stored']} points stored (all within ±1e150), "
                                f"{outcomes['refused']} data points refused and counted, {outcomes['skipped']} "
                                f"skipped (no recorded value), {outcomes['400']} requests 400 for a malformed "
                                "label set")
