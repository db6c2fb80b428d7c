"""The incident memory: resolutions are embedded, searched by meaning, and suggested by RCAs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiops.auth.roles import Role
from tests.aiops.rca.synthetic import fault
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_alerts import WEBHOOK
from tests.deployments.test_anomalies import ingest, new_tenant
from tests.deployments.test_rca import MINUTE, last_minute, per_minute

pytestmark = pytest.mark.engine

RELEVANT = ("inc-pool", "orders-db", "The database connection pool was exhausted: raised max_connections and "
                                     "restarted the orders database.")
DISTRACTORS = [
    ("inc-tls", "ingress", "Renewed the expired TLS certificate on the ingress gateway."),
    ("inc-disk", "logging", "Freed space on the logging node by deleting old Elasticsearch indices."),
    ("inc-css", "frontend", "Rolled back the frontend release that broke the checkout button styles."),
    ("inc-kafka", "events", "Added partitions to the Kafka topic so consumers could drain the backlog."),
]


def remember(engine: RunningEngine, tenant: str) -> None:
    writer = engine.auth(tenant=tenant, role=Role.OPERATOR)
    for incident_id, service, text in [RELEVANT, *DISTRACTORS]:
        body = {"incident_id": incident_id, "service_id": service, "resolution": text, "resolved_by": "sre@x.io"}
        response = engine.http.post("/api/v1/resolutions/webhook", json=body, headers=writer)
        assert response.status_code == 200, response.text


def search(engine: RunningEngine, tenant: str, query: str) -> dict:
    response = engine.http.post("/api/v1/incidents/search", json={"query": query, "limit": 3},
                                headers=engine.auth(tenant=tenant, role=Role.VIEWER))
    assert response.status_code == 200, response.text
    return response.json()


def test_search_finds_the_resolution_by_meaning(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    remember(engine, tenant)
    # Hardly a word in common with the relevant resolution.
    found = search(engine, tenant, "SQL backend refuses new sessions, requests time out")
    assert found["model"] == "minilm"
    assert [i["incident_id"] for i in found["incidents"]][0] == "inc-pool"
    top = found["incidents"][0]
    assert top["resolution"] == RELEVANT[2] and -1 <= top["similarity"] <= 1 and top["resolved_by"] == "sre@x.io"
    assert found["incidents"][0]["similarity"] > found["incidents"][1]["similarity"]
    assert search(engine, "globex", "SQL backend refuses new sessions")["incidents"] == []  # tenants apart


def test_a_similar_new_alert_gets_the_past_resolution_in_its_rca(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    remember(engine, tenant)
    end = last_minute()
    data = {("orders-db" if s == "db" else s, m): v for (s, m), v in fault(minutes=120, fault_at=100, seed=6).items()}
    ingest(engine, tenant, per_minute(data, end))
    starts = end - 19 * MINUTE
    alert = {"status": "firing", "startsAt": datetime.fromtimestamp(starts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "labels": {"alertname": "SlowQueries", "service_id": "orders-db", "tenant_id": tenant},
             "annotations": {"summary": "SQL backend refuses new sessions; callers time out"}}
    answer = engine.webhook.post(WEBHOOK, json={"alerts": [alert]}).json()

    def done() -> dict | None:
        body = engine.http.get(f"/api/v1/rca/{answer['anomaly_id']}", headers=engine.auth(tenant=tenant)).json()
        return body if body["status"] != "pending" else None

    result = wait_for(done, timeout=60, interval=0.25, what="the alert's RCA")
    assert result["status"] == "done", result
    assert result["root_causes"][0]["service_id"] == "orders-db"
    assert result["similar_incidents"][0]["incident_id"] == "inc-pool"
    assert set(result["similar_incidents"][0]) >= {"incident_id", "resolution", "similarity"}
    assert RELEVANT[2] in result["summary"]


def test_swapping_the_embedder_reembeds_the_tenants_resolutions(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    remember(engine, tenant)
    wait_for(lambda: search(engine, tenant, "database pool")["incidents"], what="embedded resolutions")
    admin = engine.auth(tenant=tenant, role=Role.ADMIN)
    response = engine.http.put("/api/v1/models/embedder", json={"name": "hashed_ngrams", "config": {}}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["reembedded"] == 1 + len(DISTRACTORS)
    found = search(engine, tenant, "expired TLS certificate")
    assert found["model"] == "hashed_ngrams" and found["incidents"][0]["incident_id"] == "inc-tls"
    models = engine.http.get("/api/v1/models", headers=admin).json()
    assert models["active"]["embedder"] == "hashed_ngrams"
    assert engine.http.put("/api/v1/models/embedder", json={"name": "nope"}, headers=admin).status_code == 422
