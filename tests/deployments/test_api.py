"""The REST API over real HTTP, on a real engine (Ray, Serve, actors, chDB)."""

from __future__ import annotations

import time

import jwt
import pytest

from aiops.auth.roles import Role
from tests.conftest import RunningEngine

pytestmark = pytest.mark.engine

COMPONENTS = {"watchdog", "vectorizer", "rca", "llm", "clickhouse"}


def test_status_shows_every_component(engine: RunningEngine) -> None:
    response = engine.http.get("/api/v1/status", headers=engine.auth(role=Role.SUPER_ADMIN))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"status", "version", "components", "watchdog"}
    assert set(body["components"]) == COMPONENTS
    assert body["components"]["clickhouse"] == "ok"
    assert body["components"]["rca"] == "ready"
    assert body["components"]["watchdog"] == "running"
    assert body["components"]["llm"] == "disabled"  # no LLM configured in tests
    assert body["components"]["vectorizer"] in {"running", "starting"}
    assert body["version"] == "1.2.0"
    assert set(body["watchdog"]) == {"last_run", "metrics_monitored", "anomalies_last_hour"}


def test_status_counts_the_incident_actors_without_new_keys(engine: RunningEngine) -> None:
    """The incident manager and the notifier have no key in the reference's components; they are
    published on /metrics as components and count towards the overall status."""
    import ray

    from actors.directory import INCIDENT_MANAGER, NOTIFIER, actor_name
    from tests.conftest import wait_for

    def up() -> dict[str, str] | None:
        body = engine.http.get("/api/v1/status", headers=engine.auth(role=Role.SUPER_ADMIN)).json()
        assert set(body["components"]) == COMPONENTS
        lines = [line for line in engine.http.get("/metrics").text.splitlines()
                 if line.startswith("aiops_component_up{")]
        gauges = {line.split('"')[1]: line.rsplit(" ", 1)[1] for line in lines}
        return gauges if {"incident_manager", "notifier"} <= set(gauges) else None

    gauges = wait_for(up, timeout=30, interval=0.5, what="the incident actors on /metrics")
    assert set(gauges) >= COMPONENTS | {"incident_manager", "notifier"}
    namespace = engine.settings.ray.namespace
    for role in (INCIDENT_MANAGER, NOTIFIER):  # they are the engine's named actors, answering "running"
        actor = ray.get_actor(actor_name(role, 0), namespace=namespace)
        assert ray.get(actor.status.remote(), timeout=30)["state"] == "running"
    wait_for(lambda: (up() or {}).get("notifier") == "1.0" and up()["incident_manager"] == "1.0", timeout=30,
             interval=0.5, what="both incident actors up")


def test_status_figures_are_the_tenants_own(engine: RunningEngine) -> None:
    import secrets

    tenant = f"quiet-{secrets.token_hex(3)}"
    root = engine.auth(tenant="root", role=Role.SUPER_ADMIN)
    assert engine.http.post("/api/v1/tenants", json={"tenant_id": tenant, "name": "Quiet"},
                            headers=root).status_code == 201
    mine = engine.auth(tenant=tenant, role=Role.VIEWER)
    assert engine.http.get("/api/v1/status", headers=mine).json()["watchdog"]["metrics_monitored"] == 0
    body = {"series": [{"service_id": "api", "metric_name": name, "points": [[time.time(), 1.0]]}
                       for name in ("cpu", "mem", "latency")]}
    assert engine.http.post("/api/v1/ingest/metrics", json=body,
                            headers=engine.auth(tenant=tenant, role=Role.OPERATOR)).status_code == 200
    figures = engine.http.get("/api/v1/status", headers=mine).json()["watchdog"]
    assert figures["metrics_monitored"] == 3
    assert figures["last_run"] is not None
    assert figures["anomalies_last_hour"] == 0
    everyone = engine.http.get("/api/v1/status", headers=root).json()["watchdog"]
    assert everyone["metrics_monitored"] >= 3


def test_vectorizer_finishes_loading(engine: RunningEngine) -> None:
    from tests.conftest import wait_for

    def running() -> bool:
        body = engine.http.get("/api/v1/status", headers=engine.auth(role=Role.VIEWER)).json()
        return body["components"]["vectorizer"] == "running" and body["status"] == "ok"

    wait_for(running, timeout=120, interval=0.5, what="vectorizer to load its model")


@pytest.mark.parametrize(
    "headers, message",
    [
        ({}, "missing Authorization header"),
        ({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, "Bearer"),
        ({"Authorization": "Bearer not-a-token"}, "malformed token"),
    ],
)
def test_status_without_valid_credentials_is_401(engine: RunningEngine, headers: dict, message: str) -> None:
    response = engine.http.get("/api/v1/status", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert message in error["message"]


def test_expired_and_forged_tokens_are_401(engine: RunningEngine) -> None:
    expired = engine.http.get("/api/v1/status", headers={"Authorization": f"Bearer {engine.token(ttl=-120)}"})
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    forged = jwt.encode({"sub": "mallory", "tenant_id": "acme", "role": "super_admin", "exp": int(time.time()) + 60},
                        "not-the-engine-secret-" + "q" * 20, algorithm="HS256")
    assert engine.http.get("/api/v1/status", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_health_ready_metrics_and_openapi_are_open(engine: RunningEngine) -> None:
    assert engine.http.get("/-/healthy").json() == {"status": "ok", "checks": {}}
    ready = engine.http.get("/-/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["clickhouse"] == "ok"
    metrics = engine.http.get("/metrics")
    assert metrics.status_code == 200
    assert "aiops_http_requests_total" in metrics.text
    assert 'aiops_build_info{version="1.2.0"} 1.0' in metrics.text
    spec = engine.http.get("/api/v1/openapi.json").json()
    assert "/api/v1/status" in spec["paths"]
    assert "401" in spec["paths"]["/api/v1/status"]["get"]["responses"]


def test_metrics_count_answers_by_route_template(engine: RunningEngine) -> None:
    engine.http.get("/api/v1/status")  # a 401
    text = engine.http.get("/metrics").text
    assert 'aiops_http_requests_total{method="GET",route="/api/v1/status",status="401"}' in text


def test_unknown_route_is_json_404(engine: RunningEngine) -> None:
    response = engine.http.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "no route GET /api/v1/nothing-here"}}


def test_wrong_method_is_json_405(engine: RunningEngine) -> None:
    response = engine.http.post("/api/v1/status", headers=engine.auth())
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
