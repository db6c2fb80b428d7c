"""A vectorizer killed while resolutions arrive: they are stored at once and embedded after its restart."""

from __future__ import annotations

import os
import signal
import time

import pytest
import ray

from actors.directory import VECTORIZER, actor_name
from aiops.auth.roles import Role
from aiops.sharding import shard_for
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_anomalies import new_tenant

pytestmark = pytest.mark.engine


@pytest.mark.reliability(
    fault="vectorizer killed (SIGKILL) while resolutions arrive",
    promise="resolutions answered 200 and stored at once, embedded after the restart",
)
def test_resolutions_survive_a_killed_vectorizer(engine: RunningEngine, record_property) -> None:
    tenant = new_tenant(engine)
    vectorizer = ray.get_actor(actor_name(VECTORIZER, shard_for(tenant, engine.settings.watchdog.shards)),
                               namespace=engine.settings.ray.namespace)
    pid = ray.get(vectorizer.__ray_call__.remote(lambda self: os.getpid()))
    os.kill(pid, signal.SIGKILL)
    body = {"incident_id": "inc-kill", "service_id": "search", "resolution": "Rebuilt the search index shards."}
    began = time.monotonic()
    response = engine.http.post("/api/v1/resolutions/webhook", json=body,
                                headers=engine.auth(tenant=tenant, role=Role.OPERATOR))
    assert response.status_code == 200 and response.json()["stored"] is True  # durable without a vectorizer
    assert time.monotonic() - began < engine.settings.incidents.embed_timeout_seconds + 10
    record_property("measured", f"answered in {time.monotonic() - began:.1f} s; embedded and found after restart")

    def found() -> list[dict]:
        answer = engine.http.post("/api/v1/incidents/search", json={"query": "search index broken", "limit": 3},
                                  headers=engine.auth(tenant=tenant, role=Role.VIEWER))
        return answer.json().get("incidents", []) if answer.status_code == 200 else []

    incidents = wait_for(found, timeout=120, interval=1.0, what="the resolution to be embedded after the restart")
    assert incidents[0]["incident_id"] == "inc-kill"
    assert ray.get(vectorizer.__ray_call__.remote(lambda self: os.getpid())) != pid
