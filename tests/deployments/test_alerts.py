"""The Alertmanager webhook on 9093 and the resolution webhook on 8080, over real HTTP."""

from __future__ import annotations

import copy
import json

import pytest

from aiops.auth.roles import Role
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_anomalies import anomalies, new_tenant

pytestmark = pytest.mark.engine

WEBHOOK = "/api/v1/alerts/webhook"

# The reference's example, as published.
REFERENCE = {
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "HighCPU", "service_id": "payment-api", "severity": "critical"},
        "annotations": {"summary": "CPU usage above 85% for 5 minutes"},
        "startsAt": "2026-04-10T12:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
    }],
    "groupLabels": {"alertname": "HighCPU"},
    "commonLabels": {"service_id": "payment-api"},
}


def for_tenant(tenant: str, payload: dict = REFERENCE, **changes) -> dict:
    body = copy.deepcopy(payload)
    for alert in body["alerts"]:
        alert["labels"]["tenant_id"] = tenant
        alert.update(changes)
    return body


def alerts_of(engine: RunningEngine, tenant: str) -> list[dict]:
    return [a for a in anomalies(engine, tenant, limit=100)["anomalies"] if a["source"] == "alertmanager"]


def test_the_reference_payload_gets_the_reference_answer(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    response = engine.webhook.post(WEBHOOK, json=for_tenant(tenant))
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["status", "rca_triggered", "anomaly_id"]
    assert body["status"] == "ok" and body["rca_triggered"] is True and body["anomaly_id"].startswith("anom-")
    assert response.content == json.dumps(body).encode()  # laid out as the reference prints it
    [anomaly] = alerts_of(engine, tenant)
    assert anomaly["anomaly_id"] == body["anomaly_id"]
    assert (anomaly["service_id"], anomaly["metric_name"], anomaly["rca_triggered"]) == ("payment-api", "HighCPU",
                                                                                         True)
    assert anomaly["detected_at"].startswith("2026-04-10T12:00:00")
    # Its RCA was requested and runs (no metrics here, so it ends failed, with the reason).
    rca = wait_for(lambda: (r := engine.http.get(f"/api/v1/rca/{body['anomaly_id']}",
                                                 headers=engine.auth(tenant=tenant)).json())["status"] != "pending"
                   and r, timeout=30, interval=0.25, what="the alert's RCA")
    assert rca["status"] == "failed" and "no metrics" in rca["reason"]


def test_retries_and_repeats_map_to_one_anomaly_and_resolved_resolves(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    first = engine.webhook.post(WEBHOOK, json=for_tenant(tenant)).json()
    again = engine.webhook.post(WEBHOOK, json=for_tenant(tenant)).json()
    assert first == again
    assert len(alerts_of(engine, tenant)) == 1
    done = engine.webhook.post(WEBHOOK, json=for_tenant(tenant, status="resolved", endsAt="2026-04-10T12:30:00Z"))
    assert done.status_code == 200 and done.json() == {**first, "rca_triggered": False}
    [anomaly] = alerts_of(engine, tenant)
    assert anomaly["resolved"] is True
    # A late retry of the firing notice does not reopen it.
    engine.webhook.post(WEBHOOK, json=for_tenant(tenant))
    assert alerts_of(engine, tenant)[0]["resolved"] is True
    # A new start time is a new incident.
    later = engine.webhook.post(WEBHOOK, json=for_tenant(tenant, startsAt="2026-04-11T08:00:00Z")).json()
    assert later["anomaly_id"] != first["anomaly_id"] and len(alerts_of(engine, tenant)) == 2


def test_several_alerts_answer_with_the_first_firing_and_store_all(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    payload = for_tenant(tenant)
    resolved = copy.deepcopy(payload["alerts"][0])
    resolved.update(status="resolved", labels={**resolved["labels"], "service_id": "db", "alertname": "DiskFull"})
    second = copy.deepcopy(payload["alerts"][0])
    second["labels"].update(service_id="cart", alertname="HighLatency")
    payload["alerts"] = [resolved, second, payload["alerts"][0]]
    payload.pop("commonLabels")
    body = engine.webhook.post(WEBHOOK, json=payload).json()
    stored = {a["service_id"]: a for a in alerts_of(engine, tenant)}
    assert set(stored) == {"db", "cart", "payment-api"}
    assert body["anomaly_id"] == stored["cart"]["anomaly_id"] and body["rca_triggered"] is True
    assert stored["db"]["resolved"] is True and stored["db"]["rca_triggered"] is False


def test_tenant_mapping_and_keys(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    # No tenant_id label and no key: the default tenant's (alerts.default_tenant, made at start; #18).
    assert engine.webhook.post(WEBHOOK, json=REFERENCE).status_code == 200
    response = engine.webhook.post(WEBHOOK, json=for_tenant("no-such-tenant"))
    assert response.status_code == 422 and "does not exist" in response.json()["error"]["message"]

    _, webhook_key = engine.create_key("webhook", tenant=tenant)
    response = engine.webhook.post(WEBHOOK, json=REFERENCE, headers={"Authorization": f"Bearer {webhook_key}"})
    assert response.status_code == 200, response.text  # the key decides the tenant
    assert alerts_of(engine, tenant)[0]["anomaly_id"] == response.json()["anomaly_id"]
    response = engine.webhook.post(WEBHOOK, json=for_tenant("globex"), headers={"X-API-Key": webhook_key})
    assert response.status_code == 422 and "differs" in response.json()["error"]["message"]
    _, read_key = engine.create_key("read", tenant=tenant)
    assert engine.webhook.post(WEBHOOK, json=REFERENCE, headers={"X-API-Key": read_key}).status_code == 403
    assert engine.webhook.post(WEBHOOK, json=REFERENCE,
                               headers={"Authorization": "Bearer isage_nope"}).status_code == 401
    token = engine.auth(tenant=tenant, role=Role.ADMIN)  # a JWT, which this port does not take
    response = engine.webhook.post(WEBHOOK, json=REFERENCE, headers=token)
    assert response.status_code == 401 and "webhook-scoped API key" in response.json()["error"]["message"]
    assert alerts_of(engine, "globex") == []


def test_bad_payloads_are_refused_and_store_nothing(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    cases = [
        (400, {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
        (415, {"content": json.dumps(for_tenant(tenant)).encode(), "headers": {"Content-Type": "text/plain"}}),
        (422, {"json": {"alerts": []}}),
        (422, {"json": {"alerts": [{"status": "firing", "labels": {"tenant_id": tenant}}]}}),  # no startsAt
        (422, {"json": for_tenant(tenant, status="pending")}),
        (422, {"json": for_tenant(tenant, startsAt="yesterday")}),
        (422, {"json": {"alerts": [{**for_tenant(tenant)["alerts"][0], "labels": {"tenant_id": tenant}}]}}),
        (413, {"content": b"{" + b" " * (engine.settings.alerts.max_body_bytes + 1) + b"}",
               "headers": {"Content-Type": "application/json"}}),
    ]
    for status, arguments in cases:
        response = engine.webhook.post(WEBHOOK, **arguments)
        assert response.status_code == status, (status, response.text[:200])
        assert set(response.json()["error"]) == {"code", "message"}
    # One bad alert refuses the whole payload: the good one beside it is not stored either.
    mixed = for_tenant(tenant)
    mixed["alerts"].append({**mixed["alerts"][0], "labels": {"tenant_id": tenant, "alertname": "NoService"}})
    mixed.pop("commonLabels")
    assert engine.webhook.post(WEBHOOK, json=mixed).status_code == 422
    assert alerts_of(engine, tenant) == []


def test_the_resolution_webhook_answers_as_the_reference(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    anomaly_id = engine.webhook.post(WEBHOOK, json=for_tenant(tenant)).json()["anomaly_id"]
    body = {"incident_id": anomaly_id, "service_id": "payment-api",
            "resolution": "Scaled payment-api from 3 to 5 pods. Root cause was memory leak in DB connection pool "
                          "introduced in v2.3.1. Fixed by upgrading to v2.3.2.",
            "resolved_by": "alice@mycompany.com", "time_to_recovery_minutes": 18, "tags": ["memory-leak", "db-pool"]}
    writer = engine.auth(tenant=tenant, role=Role.OPERATOR)
    response = engine.http.post("/api/v1/resolutions/webhook", json=body, headers=writer)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert list(answer) == ["status", "stored", "knowledge_base_id"]
    assert answer["status"] == "ok" and answer["stored"] is True and answer["knowledge_base_id"].startswith("kb-")
    assert response.content == json.dumps(answer).encode()
    assert engine.http.post("/api/v1/resolutions/webhook", json=body, headers=writer).json() == answer  # idempotent
    assert alerts_of(engine, tenant)[0]["resolved"] is True  # it named the anomaly
    for bad in ({**body, "resolution": "  "}, {**body, "service_id": ""}, {**body, "extra": 1},
                {k: v for k, v in body.items() if k != "resolution"}, {**body, "time_to_recovery_minutes": -1}):
        assert engine.http.post("/api/v1/resolutions/webhook", json=bad, headers=writer).status_code == 422
    viewer = engine.auth(tenant=tenant, role=Role.VIEWER)
    assert engine.http.post("/api/v1/resolutions/webhook", json=body, headers=viewer).status_code == 403
