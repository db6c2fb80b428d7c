"""Internals stay out of answers (kind 11); tokens (kind 13), through the running engine."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import jwt
import pytest

from aiops.auth.roles import Role
from aiops.storage.gateway import StoreGateway
from aiops.storage.records import AnomalyRecord
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_anomalies import new_tenant

pytestmark = pytest.mark.engine

# What Ray's and Python's own error text looks like: tracebacks, process and node names, addresses.
INTERNALS = re.compile(r"Traceback|File \"|ray::|RayTaskError|pid=|\bpid\b|ip=|\d+\.\d+\.\d+\.\d+|actor_id|"
                       r"KeyError|ValueError|Exception", re.IGNORECASE)


def assert_no_internals(text: str) -> None:
    found = INTERNALS.search(text)
    assert found is None, f"internal detail {found.group(0)!r} in {text!r}"


@pytest.mark.reliability(
    fault="incident search while the tenant's vectorizer fails (the report: the 503 carried Ray's remote "
          "traceback, pid and node address); an RCA whose analysis raises (its reason was the raw exception)",
    promise="a stable code and a human message in the answer; the details in the log, under the request id "
            "(search) or the RCA's reference",
    kind="11 internals in answers",
)
def test_failures_answer_in_words_not_internals(engine: RunningEngine, record_property) -> None:
    tenant = new_tenant(engine)
    store = StoreGateway(engine.settings, in_process=False).sync
    now = datetime.now(UTC)
    # A model choice no code knows: the vectorizer and the RCA worker both fail on it, inside Ray.
    store.choose_model(tenant, "embedder", "no-such-embedder", "{}", "test", now)
    store.choose_model(tenant, "ranker", "no-such-ranker", "{}", "test", now)
    search = engine.http.post("/api/v1/incidents/search", json={"query": "db down"},
                              headers={**engine.auth(tenant=tenant, role=Role.VIEWER), "X-Request-ID": "trace-11"})
    assert search.status_code == 503 and search.json()["error"]["code"] == "unavailable"
    assert_no_internals(search.text)

    anomaly_id = "anom-internals"
    store.upsert_anomalies([AnomalyRecord(tenant, anomaly_id, "api", "latency_ms", 1, {}, "watchdog", "ewma", 0.99,
                                          9.0, now, now)])
    path = f"/api/v1/rca/{anomaly_id}"
    viewer = engine.auth(tenant=tenant, role=Role.VIEWER)
    assert engine.http.get(path, headers=viewer).status_code == 200  # requests it
    result = wait_for(lambda: (r := engine.http.get(path, headers=viewer).json())["status"] == "failed" and r,
                      timeout=90, interval=0.5, what="the failing RCA to give up")
    assert result["reason_code"] == "analysis_error"
    assert "failed unexpectedly" in result["reason"] and f"{tenant}/{anomaly_id}#" in result["reason"]
    assert_no_internals(result["reason"])
    record_property("measured", f"search: 503 {search.json()['error']['message']!r}; RCA: failed, reason_code "
                                f"{result['reason_code']}, reason {result['reason']!r}")


@pytest.mark.reliability(
    fault="a token valid for 100 years, and a token without iat, presented to the API",
    promise="401 saying why (lifetime over auth.max_token_lifetime_seconds; iat required)",
    kind="13 tokens",
)
def test_long_lived_and_undated_tokens_are_refused(engine: RunningEngine, record_property) -> None:
    century = engine.token(role=Role.ADMIN, ttl=100 * 365 * 86400)
    refused = engine.http.get("/api/v1/rbac/permissions", headers={"Authorization": f"Bearer {century}"})
    assert refused.status_code == 401 and "lifetime" in refused.json()["error"]["message"]
    undated = jwt.encode({"sub": "alice", "tenant_id": "acme", "role": "admin", "exp": int(time.time()) + 60},
                         engine.settings.jwt_secret.get_secret_value(), algorithm="HS256")
    missing = engine.http.get("/api/v1/rbac/permissions", headers={"Authorization": f"Bearer {undated}"})
    assert missing.status_code == 401 and "iat" in missing.json()["error"]["message"]
    record_property("measured", f"100 years: 401 ({refused.json()['error']['message']}); no iat: 401 "
                                f"({missing.json()['error']['message']})")
