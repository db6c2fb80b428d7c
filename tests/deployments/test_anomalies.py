"""The watchdog over real HTTP: ingest, detect, list, page, triage, swap models."""

from __future__ import annotations

import math
import secrets
import time

import numpy as np
import pytest

from aiops.auth.roles import Role
from tests.conftest import RunningEngine

pytestmark = pytest.mark.engine

STEP = 300  # seconds between points
DAYS = 3


def new_tenant(engine: RunningEngine) -> str:
    tenant = f"wd-{secrets.token_hex(3)}"
    response = engine.http.post("/api/v1/tenants", json={"tenant_id": tenant, "name": "Watched", "plan": "pro"},
                                headers=engine.auth(tenant="root", role=Role.SUPER_ADMIN))
    assert response.status_code == 201
    return tenant


def seasonal_points(end: float, *, spike_at_end: bool, seed: int, days: int = DAYS) -> list[list[float]]:
    stamps = end - STEP * np.arange(days * 86400 // STEP)[::-1]
    rng = np.random.default_rng(seed)
    values = 50 + 20 * np.sin(2 * np.pi * stamps / 86400) + rng.normal(0, 1, stamps.size)
    if spike_at_end:
        values[-3] += 30
    return [[float(t), float(v)] for t, v in zip(stamps, values, strict=True)]


def ingest(engine: RunningEngine, tenant: str, series: list[dict]) -> None:
    # In day-sized batches, as a collector would send them.
    longest = max(len(s["points"]) for s in series)
    for first in range(0, longest, 288):
        chunk = [{**s, "points": s["points"][first:first + 288]} for s in series if s["points"][first:first + 288]]
        response = engine.http.post("/api/v1/ingest/metrics", json={"series": chunk},
                                    headers=engine.auth(tenant=tenant, role=Role.OPERATOR))
        assert response.status_code == 200, response.text


def anomalies(engine: RunningEngine, tenant: str, **params) -> dict:
    response = engine.http.get("/api/v1/anomalies", params=params, headers=engine.auth(tenant=tenant, role=Role.VIEWER))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def watched(engine: RunningEngine) -> tuple[str, float]:
    """A tenant with three days of four seasonal series; only payment-api/cpu spikes at the end."""
    tenant = new_tenant(engine)
    end = math.floor(time.time() / STEP) * STEP - STEP
    series = [
        {"service_id": "payment-api", "metric_name": "cpu_usage_percent", "labels": {"pod": "p-1"},
         "points": seasonal_points(end, spike_at_end=True, seed=1)},
        {"service_id": "payment-api", "metric_name": "latency_ms", "points": seasonal_points(end, spike_at_end=False,
                                                                                             seed=2)},
        {"service_id": "user-service", "metric_name": "cpu_usage_percent",
         "points": seasonal_points(end, spike_at_end=False, seed=3)},
        {"service_id": "database", "metric_name": "cpu_usage_percent",
         "points": seasonal_points(end, spike_at_end=False, seed=4)},
    ]
    ingest(engine, tenant, series)
    return tenant, end


def test_a_planted_spike_is_listed_with_the_reference_fields(engine: RunningEngine, watched) -> None:
    tenant, end = watched
    body = anomalies(engine, tenant)
    assert body["total"] == 1, body
    anomaly = body["anomalies"][0]
    assert {"anomaly_id", "service_id", "metric_name", "anomaly_score", "z_score", "detected_at", "rca_triggered",
            "resolved"} <= set(anomaly)
    assert (anomaly["service_id"], anomaly["metric_name"]) == ("payment-api", "cpu_usage_percent")
    assert anomaly["anomaly_id"].startswith("anom-")
    assert 0.9 <= anomaly["anomaly_score"] <= 1 and anomaly["z_score"] > 5
    assert anomaly["detected_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end - 2 * STEP))
    assert anomaly["resolved"] is False and anomaly["labels"] == {"pod": "p-1"}
    assert anomaly["rca_triggered"] == (anomaly["anomaly_score"] >= engine.settings.watchdog.rca_threshold)
    assert body["page_token"] is None

    status = engine.http.get("/api/v1/status", headers=engine.auth(tenant=tenant, role=Role.VIEWER)).json()
    assert status["watchdog"]["anomalies_last_hour"] == 1
    assert status["watchdog"]["metrics_monitored"] == 4


def test_other_tenants_see_none_of_it(engine: RunningEngine, watched) -> None:
    assert anomalies(engine, "globex", service_id="payment-api")["total"] == 0


def test_filters_and_paging(engine: RunningEngine, watched) -> None:
    tenant, end = watched
    assert anomalies(engine, tenant, service_id="database")["total"] == 0
    assert anomalies(engine, tenant, service_id="payment-api")["total"] == 1
    assert anomalies(engine, tenant, min_score=0.999999)["total"] <= 1
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end - 3600))
    assert anomalies(engine, tenant, since=since)["total"] == 1
    assert anomalies(engine, tenant, until=since)["total"] == 0


def test_paging_is_keyset_and_stable(engine: RunningEngine) -> None:
    from datetime import UTC, datetime, timedelta

    from aiops.storage.gateway import StoreGateway
    from aiops.storage.records import AnomalyRecord

    tenant = new_tenant(engine)
    now = datetime.now(UTC)
    made = [AnomalyRecord(tenant, f"anom-{i:04d}", "api", "cpu", i, {}, "watchdog", "seasonal", 0.95, 6.0,
                          now - timedelta(minutes=i), now) for i in range(7)]
    StoreGateway(engine.settings, in_process=False).sync.upsert_anomalies(made)
    seen, token = [], None
    while True:
        page = anomalies(engine, tenant, limit=3, **({"page_token": token} if token else {}))
        assert page["total"] == 7
        seen += [a["anomaly_id"] for a in page["anomalies"]]
        token = page["page_token"]
        if token is None:
            break
    assert seen == [f"anom-{i:04d}" for i in range(7)]  # newest first, each once


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"min_score": 1.5}, {"since": "yesterday"},
                                    {"page_token": "not-a-token"}])
def test_bad_listing_parameters_are_422(engine: RunningEngine, params: dict) -> None:
    response = engine.http.get("/api/v1/anomalies", params=params, headers=engine.auth(role=Role.VIEWER))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


def test_triage_resolves_and_records_feedback(engine: RunningEngine, watched) -> None:
    tenant, _ = watched
    anomaly_id = anomalies(engine, tenant)["anomalies"][0]["anomaly_id"]
    headers = engine.auth(tenant=tenant, role=Role.OPERATOR)
    patched = engine.http.patch(f"/api/v1/anomalies/{anomaly_id}", json={"resolved": True, "feedback": "true_positive"},
                                headers=headers)
    assert patched.status_code == 200
    assert patched.json()["resolved"] is True and patched.json()["feedback"] == "true_positive"
    assert anomalies(engine, tenant)["anomalies"][0]["resolved"] is True
    assert engine.http.patch(f"/api/v1/anomalies/{anomaly_id}", json={}, headers=headers).status_code == 422
    assert engine.http.patch(f"/api/v1/anomalies/{anomaly_id}", json={"feedback": "meh"},
                             headers=headers).status_code == 422
    assert engine.http.patch("/api/v1/anomalies/anom-nope", json={"resolved": True}, headers=headers).status_code == 404


def test_a_model_swap_takes_effect_without_restart(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    admin = engine.auth(tenant=tenant, role=Role.ADMIN)
    before = engine.http.get("/api/v1/models", headers=admin).json()
    assert before["active"]["detector"] == engine.settings.watchdog.detector
    end = math.floor(time.time() / STEP) * STEP - STEP
    ingest(engine, tenant, [{"service_id": "api", "metric_name": "cpu",
                             "points": seasonal_points(end - STEP * 10, spike_at_end=False, seed=9, days=2)}])
    swapped = engine.http.put("/api/v1/models/detector", json={"name": "ewma", "config": {"halflife": 50}},
                              headers=admin)
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["name"] == "ewma" and swapped.json()["warmed_up_on_points"] > 0
    assert engine.http.get("/api/v1/models", headers=admin).json()["active"]["detector"] == "ewma"
    spike = [[end - STEP * i, 500.0] for i in range(9, 0, -1)]
    ingest(engine, tenant, [{"service_id": "api", "metric_name": "cpu", "points": spike}])
    listed = anomalies(engine, tenant)["anomalies"]
    assert listed and all(a["model"] == "ewma" for a in listed)

    for bad in ({"name": "nope"}, {"name": "ewma", "config": {"halflife": -1}}, {"name": "ewma", "config": {"x": 1}}):
        assert engine.http.put("/api/v1/models/detector", json=bad, headers=admin).status_code == 422
    assert engine.http.put("/api/v1/models/ranker", json={"name": "x"}, headers=admin).status_code == 422
