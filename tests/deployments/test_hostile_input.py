"""Hostile input gets a clear 4xx and changes nothing: SQL-looking text, huge label sets, deep JSON, wrong types."""

from __future__ import annotations

import json
import time

import pytest

from aiops.auth.roles import Role
from tests.conftest import RunningEngine

pytestmark = pytest.mark.engine

SQLISH = ["' OR '1'='1", "x'; DROP TABLE anomalies; --", "\\' UNION SELECT * FROM api_keys --", "{tenant_id:String}",
          "acme' AND tenant_id != 'acme"]


def assert_clean_4xx(response, *allowed: int) -> None:
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    assert set(response.json()["error"]) == {"code", "message"}


@pytest.mark.parametrize("text", SQLISH)
@pytest.mark.reliability(
    fault="SQL-looking strings in every filter, id and new tenant id",
    promise="treated as values: 200 with nothing found, or 404/422; no table touched",
)
def test_sql_looking_text_in_filters_and_ids(engine: RunningEngine, text: str, record_property) -> None:
    viewer = engine.auth(role=Role.VIEWER)
    listed = engine.http.get("/api/v1/anomalies", params={"service_id": text}, headers=viewer)
    assert listed.status_code == 200 and listed.json()["anomalies"] == []  # a value, not SQL
    series = engine.http.get("/api/v1/series", params={"service_id": text}, headers=viewer)
    assert series.status_code == 200 and series.json()["series"] == []
    assert_clean_4xx(engine.http.get(f"/api/v1/rca/{text}", headers=viewer), 404)
    assert_clean_4xx(engine.http.patch(f"/api/v1/anomalies/{text}", json={"resolved": True},
                                       headers=engine.auth(role=Role.OPERATOR)), 404)
    assert_clean_4xx(engine.http.get("/api/v1/rca/correlations", params={"service_id": text}, headers=viewer), 404)
    assert_clean_4xx(engine.http.post("/api/v1/tenants", json={"tenant_id": text, "name": "x", "plan": "pro"},
                                      headers=engine.auth(tenant="root", role=Role.SUPER_ADMIN)), 422)
    # Nothing was dropped or leaked: the engine still answers from its tables.
    assert engine.http.get("/api/v1/status", headers=viewer).json()["components"]["clickhouse"] == "ok"
    record_property("measured", f"{text!r}: lists empty, ids 404, tenant id 422, storage still ok")


@pytest.mark.reliability(
    fault="1,000 labels on a series; a 100 kB label value",
    promise="422 naming the series, nothing stored",
)
def test_huge_label_sets_are_refused_whole(engine: RunningEngine, record_property) -> None:
    labels = {f"label_{i}": "v" * 10 for i in range(1000)}
    body = {"series": [{"service_id": "big", "metric_name": "m", "labels": labels, "points": [[time.time(), 1.0]]}]}
    assert_clean_4xx(engine.http.post("/api/v1/ingest/metrics", json=body, headers=engine.auth()), 422)
    long_value = {"series": [{"service_id": "big", "metric_name": "m", "labels": {"k": "v" * 100_000},
                              "points": [[time.time(), 1.0]]}]}
    assert_clean_4xx(engine.http.post("/api/v1/ingest/metrics", json=long_value, headers=engine.auth()), 422)
    assert engine.http.get("/api/v1/series", params={"service_id": "big"},
                           headers=engine.auth(role=Role.VIEWER)).json()["series"] == []
    record_property("measured", "both 422, no series stored")


@pytest.mark.parametrize("path", ["/api/v1/ingest/metrics", "/api/v1/incidents/search", "/api/v1/topology",
                                  "/api/v1/resolutions/webhook"])
@pytest.mark.reliability(
    fault="JSON nested 50,000 deep",
    promise="a 400/422 in the one error shape (no 500, no crash)",
)
def test_deeply_nested_json_is_a_clean_4xx(engine: RunningEngine, path: str, record_property) -> None:
    deep = ("[" * 50_000 + "]" * 50_000).encode()
    method = engine.http.put if path.endswith("topology") else engine.http.post
    response = method(path, content=deep, headers={**engine.auth(), "Content-Type": "application/json"})
    assert_clean_4xx(response, 400, 422)
    record_property("measured", f"{path}: {response.status_code}")


def test_deeply_nested_alerts_are_a_clean_4xx(engine: RunningEngine) -> None:
    deep = '{"alerts": ' + "[" * 50_000 + "]" * 50_000 + "}"
    assert_clean_4xx(engine.webhook.post("/api/v1/alerts/webhook", content=deep.encode(),
                                         headers={"Content-Type": "application/json"}), 400, 422)


@pytest.mark.parametrize(("path", "content_type"), [
    ("/api/v1/ingest/metrics", "application/x-protobuf"),
    ("/api/v1/ingest/metrics", "text/csv"),
    ("/api/v1/ingest/prometheus", "application/json"),
])
@pytest.mark.reliability(
    fault="wrong Content-Type on ingestion",
    promise="415, nothing parsed",
)
def test_wrong_content_types_are_415(engine: RunningEngine, path: str, content_type: str, record_property) -> None:
    body = json.dumps({"series": []}).encode()
    response = engine.http.post(path, content=body, headers={**engine.auth(), "Content-Type": content_type})
    assert_clean_4xx(response, 415)
    record_property("measured", f"{content_type} to {path}: {response.status_code}")


@pytest.mark.reliability(
    fault="replayed token and keys of a deleted tenant",
    promise="401 within auth.tenant_cache_seconds of the deletion; nothing served",
)
def test_credentials_of_a_deleted_tenant_stop_working(engine: RunningEngine, record_property) -> None:
    from tests.deployments.test_anomalies import new_tenant

    tenant = new_tenant(engine)
    token = engine.token(tenant=tenant, role=Role.ADMIN)
    _, read_key = engine.create_key("read", tenant=tenant)
    _, webhook_key = engine.create_key("webhook", tenant=tenant)
    assert engine.http.get("/api/v1/anomalies", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    deleted = engine.http.delete(f"/api/v1/tenants/{tenant}", headers=engine.auth(tenant="root",
                                                                                   role=Role.SUPER_ADMIN))
    assert deleted.status_code == 204
    assert engine.http.delete(f"/api/v1/tenants/{tenant}", headers=engine.auth(
        tenant="root", role=Role.SUPER_ADMIN)).status_code == 404
    answers = [
        engine.http.get("/api/v1/anomalies", headers={"Authorization": f"Bearer {token}"}),
        engine.http.get("/api/v1/anomalies", headers={"X-API-Key": read_key}),
        engine.webhook.post("/api/v1/alerts/webhook", json={"alerts": [{"status": "firing", "labels": {
            "service_id": "x"}, "startsAt": "2026-04-10T12:00:00Z"}]}, headers={"X-API-Key": webhook_key}),
    ]
    for answer in answers:  # caches live auth.tenant_cache_seconds (1 s here) at most; the API answered after it
        assert_clean_4xx(answer, 401)
    listed = engine.http.get("/api/v1/tenants", headers=engine.auth(tenant="root", role=Role.SUPER_ADMIN)).json()
    assert tenant not in {t["tenant_id"] for t in listed["tenants"]}
    record_property("measured", "token, read key and webhook key: 401 after the delete; tenant no longer listed")


@pytest.mark.reliability(
    fault="a client dripping its request body (one byte every 0.5 s)",
    promise="cut off with 408 at serve.request_timeout_seconds; the connection does not stay held",
)
def test_slow_drip_bodies_are_cut_off(engine: RunningEngine, record_property) -> None:
    import select
    import socket

    limit = engine.settings.serve.request_timeout_seconds
    token = engine.token()
    head = (f"POST /api/v1/ingest/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n").encode()
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", engine.settings.http_port), timeout=limit + 30) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        while time.monotonic() - began < limit + 30:
            try:
                sock.sendall(b" ")
            except OSError:  # the server closed the connection
                break
            # The drip's pace: the next byte after 0.5 s, unless the server answers first.
            readable, _, _ = select.select([sock], [], [], 0.5)
            if not readable:
                continue
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            if chunk == b"":
                break
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
    waited = time.monotonic() - began
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1") else "closed"
    assert status in ("408", "closed"), answer[:300]
    assert waited < limit + 15, waited
    record_property("measured", f"{status} after {waited:.1f} s (limit {limit:g} s)")
