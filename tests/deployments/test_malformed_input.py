"""Malformed input through the engine: label sets (kind 6), protocol (kind 7), text that is not text (kind 8)."""

from __future__ import annotations

import json
import secrets
import time

import cramjam
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops.auth.roles import Role
from aiops.ingest.remote_write import encode_write_request, write_request_class
from tests.conftest import RunningEngine
from tests.deployments.test_alerts import REFERENCE, WEBHOOK, alerts_of, for_tenant
from tests.deployments.test_anomalies import new_tenant
from tests.deployments.test_ingest import PROTOBUF, read
from tests.properties import ENGINE_PROPERTY

pytestmark = pytest.mark.engine

V2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"


def remote_write(pairs: list[tuple[str, str]], histograms: int = 0, samples: int = 1) -> bytes:
    request = write_request_class()()
    series = request.timeseries.add()
    for name, value in pairs:
        series.labels.add(name=name.encode(), value=value.encode())
    for i in range(samples):
        series.samples.add(timestamp=int(time.time() * 1000) - i, value=1.0)
    series.histograms.extend([b"\x08\x01"] * histograms)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


# -- kind 6: label sets ---------------------------------------------------------------------
@pytest.mark.reliability(
    fault='a remote_write series labelled {__name__="x", job="a", az="1", az="2"}; a JSON batch naming a label '
          "twice (the report: 200, last value kept)",
    promise="400 naming the series and the label, as Prometheus' receiver does; nothing stored",
    kind="6 label sets",
)
def test_a_label_named_twice_is_400(engine: RunningEngine, record_property) -> None:
    job = f"dup-{secrets.token_hex(3)}"
    response = engine.http.post("/api/v1/ingest/prometheus", headers={**PROTOBUF, **engine.auth(role=Role.OPERATOR)},
                                content=remote_write([("__name__", "x"), ("job", job), ("az", "1"), ("az", "2")]))
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "timeseries[0]" in message and f"job='{job}'" in message and "'az' appears more than once" in message
    raw = (f'{{"series": [{{"service_id": "{job}", "metric_name": "x", "labels": {{"az": "1", "az": "2"}}, '
           f'"points": [[{time.time()}, 1.0]]}}]}}').encode()
    again = engine.http.post("/api/v1/ingest/metrics", content=raw,
                             headers={"Content-Type": "application/json", **engine.auth(role=Role.OPERATOR)})
    assert again.status_code == 400 and "'az' appears more than once" in again.json()["error"]["message"]
    assert read(engine, job) == []
    record_property("measured", f"remote_write: 400 ({message[:90]}); JSON: 400; nothing stored")


def test_property_label_sets_through_the_engine(engine: RunningEngine) -> None:
    @ENGINE_PROPERTY
    @given(extra=st.lists(st.tuples(st.sampled_from(["az", "pod", "", "zone"]), st.sampled_from(["1", "2"])),
                          max_size=4))
    def check(extra: list[tuple[str, str]]) -> None:
        job = f"ls-{secrets.token_hex(3)}"
        names = [n for n, _ in extra]
        malformed = "" in names or len(set(names)) != len(names)
        response = engine.http.post("/api/v1/ingest/prometheus", content=remote_write(
            [("__name__", "m"), ("job", job), *extra]), headers={**PROTOBUF, **engine.auth(role=Role.OPERATOR)})
        assert response.status_code == (400 if malformed else 200), (extra, response.text)
        if malformed:
            assert "timeseries[0]" in response.json()["error"]["message"]
        else:
            assert read(engine, job)[0]["labels"] == {"job": job, **dict(extra)}

    check()


# -- kind 7: protocol negotiation -----------------------------------------------------------
@pytest.mark.reliability(
    fault="a Remote-Write 2.0 body (proto=io.prometheus.write.v2.Request); a 1.0 series with only native "
          "histograms (the report: 200, 0 accepted, nothing counted)",
    promise="2.0: 415 so the sender falls back to 1.0; histograms: 200 with the samples counted as skipped, "
            "by reason, in the answer and in aiops_ingest_skipped_samples_total",
    kind="7 protocol negotiation",
)
def test_remote_write_2_is_refused_and_histograms_are_counted(engine: RunningEngine, record_property) -> None:
    headers = {**PROTOBUF, **engine.auth(role=Role.OPERATOR)}
    body = encode_write_request([({"__name__": "m", "job": "v2"}, [(int(time.time() * 1000), 1.0)])])
    refused = engine.http.post("/api/v1/ingest/prometheus", content=body, headers={**headers, "Content-Type": V2})
    assert refused.status_code == 415 and "send 1.0" in refused.json()["error"]["message"]
    before = engine.http.get("/metrics").text
    histograms = engine.http.post("/api/v1/ingest/prometheus", headers=headers,
                                  content=remote_write([("__name__", "latency"), ("job", "hist")], histograms=4,
                                                       samples=0))
    assert histograms.status_code == 200
    assert histograms.json() == {"status": "ok", "accepted": 0, "skipped": {"native_histogram": 4}}
    after = engine.http.get("/metrics").text
    line = 'aiops_ingest_skipped_samples_total{reason="native_histogram"}'
    counted = [float(row.split()[-1]) for row in after.splitlines() if row.startswith(line)]
    was = [float(row.split()[-1]) for row in before.splitlines() if row.startswith(line)] or [0.0]
    assert counted and counted[0] - was[0] == 4
    record_property("measured", f"2.0: 415; histogram-only series: {histograms.json()}, metric +4")


# -- kind 8: text that is not text ----------------------------------------------------------
@pytest.mark.reliability(
    fault='a JSON "\\ud83d" (half an emoji) in an Alertmanager alert label, then in an annotation (the report: 500)',
    promise="400 naming the field; nothing stored",
    kind="8 text that is not text",
)
def test_half_an_emoji_on_9093_is_400_naming_the_field(engine: RunningEngine, record_property) -> None:
    tenant = new_tenant(engine)
    answers = []
    for where, field in (("labels", "severity"), ("annotations", "summary")):
        body = for_tenant(tenant)
        body["alerts"][0][where][field] = "burning \ud83d"
        response = engine.webhook.post(WEBHOOK, content=json.dumps(body).encode(),
                                       headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        message = response.json()["error"]["message"]
        assert message.startswith(f"alerts[0].{where}.{field}: not text"), message
        answers.append(message.split(":")[0])
    assert alerts_of(engine, tenant) == []
    record_property("measured", "400 naming " + " and ".join(answers) + "; nothing stored")


def json_routes(engine: RunningEngine) -> list[tuple[str, str, str, dict, dict]]:
    """(port, method, path, a valid body, headers) for every route that takes JSON."""
    admin, root = engine.auth(role=Role.ADMIN), engine.auth(tenant="root", role=Role.SUPER_ADMIN)
    now = time.time()
    return [
        ("http", "POST", "/api/v1/tenants", {"tenant_id": "t-x", "name": "T", "plan": "pro"}, root),
        ("http", "POST", "/api/v1/apikeys", {"name": "k", "scope": "read"}, admin),
        ("http", "PATCH", "/api/v1/anomalies/anom-none", {"feedback": "true_positive"}, admin),
        ("http", "PUT", "/api/v1/models/detector", {"name": "ewma", "config": {}}, admin),
        ("http", "PUT", "/api/v1/topology", {"edges": [{"caller": "front", "callee": "db"}]}, admin),
        ("http", "POST", "/api/v1/resolutions/webhook", {"service_id": "db", "resolution": "restarted",
                                                          "tags": ["pool"]}, admin),
        ("http", "POST", "/api/v1/incidents/search", {"query": "db down"}, admin),
        ("http", "POST", "/api/v1/ingest/metrics", {"series": [{"service_id": "txt", "metric_name": "m",
                                                               "labels": {"pod": "p"}, "points": [[now, 1.0]]}]},
         admin),
        ("webhook", "POST", WEBHOOK, REFERENCE, {}),
        # OTLP/HTTP's JSON encoding (errors answer as google.rpc.Status: {"code", "message"}).
        ("http", "POST", "/v1/traces", {"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "txt"}}]},
            "scopeSpans": [{"spans": [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
                                       "name": "GET /x", "startTimeUnixNano": str(int(now * 1e9)),
                                       "endTimeUnixNano": str(int(now * 1e9) + 1000)}]}]}]}, admin),
        ("http", "POST", "/v1/logs", {"resourceLogs": [{"scopeLogs": [{"logRecords": [{
            "timeUnixNano": str(int(now * 1e9)), "severityText": "INFO", "body": {"stringValue": "hello"},
            "attributes": [{"key": "pod", "value": {"stringValue": "p"}}]}]}]}]}, admin),
        ("http", "POST", "/v1/metrics", {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
            "name": "m", "gauge": {"dataPoints": [{"timeUnixNano": str(int(now * 1e9)), "asDouble": 1.0,
                                                   "attributes": [{"key": "pod", "value": {"stringValue": "p"}}]}]}
        }]}]}]}, admin),
    ]


def _strings(value, path=()):
    """Every (path, is_key) of a string in a JSON value."""
    if isinstance(value, str):
        yield path, False
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), True
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _with_surrogate(value, path, is_key: bool, char: str):
    if not path:
        return value + char
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [_with_surrogate(item, rest, is_key, char) if i == head else item for i, item in enumerate(value)]
    if is_key and not rest:
        return {(key + char if key == head else key): item for key, item in value.items()}
    return {key: _with_surrogate(item, rest, is_key, char) if key == head else item for key, item in value.items()}


@pytest.mark.reliability(
    fault="a lone surrogate (\\ud800-\\udfff) in any key or string of the body of every route that takes JSON, "
          "both ports (Hypothesis)",
    promise="a 400 naming where (field or key), never a 500; nothing stored",
    kind="8 text that is not text",
)
def test_property_no_route_takes_half_a_character(engine: RunningEngine, record_property) -> None:
    routes = json_routes(engine)
    clients = {"http": engine.http, "webhook": engine.webhook}
    tried = []

    @ENGINE_PROPERTY
    @given(route=st.sampled_from(routes), data=st.data(), char=st.integers(0xD800, 0xDFFF).map(chr))
    def check(route, data, char: str) -> None:
        port, method, path, body, headers = route
        where, is_key = data.draw(st.sampled_from(list(_strings(body))))
        sent = _with_surrogate(body, where, is_key, char)
        response = clients[port].request(method, path, content=json.dumps(sent).encode(),
                                         headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 400, (path, where, response.status_code, response.text)
        answer = response.json()
        message = answer["error"]["message"] if "error" in answer else answer["message"]  # OTLP: a Status
        assert "not text" in message, message
        if not is_key:
            assert str(where[-1]) in message or (isinstance(where[-1], int) and f"[{where[-1]}]" in message), message
        tried.append(path)

    check()
    record_property("measured", f"{len(tried)} bodies over {len(set(tried))} routes, each with one lone surrogate "
                                "somewhere: all 400 naming the field")
