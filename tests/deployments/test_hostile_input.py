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
