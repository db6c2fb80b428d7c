"""The storage owner killed mid-ingest: writes answer 503 (never 500) until it is back; nothing acknowledged is lost."""

from __future__ import annotations

import os
import signal
import time

import pytest
import ray

from aiops.auth.roles import Role
from aiops.storage.gateway import STORAGE_OWNER_NAME
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_anomalies import new_tenant

pytestmark = pytest.mark.engine


@pytest.mark.reliability(
    fault="storage owner (embedded ClickHouse) killed (SIGKILL) mid-ingest",
    promise="writes answer 503 with Retry-After (never 500), then recover; nothing acknowledged is lost",
)
def test_writes_fail_cleanly_then_recover_without_loss(engine: RunningEngine, record_property) -> None:
    tenant = new_tenant(engine)
    writer = engine.auth(tenant=tenant, role=Role.OPERATOR)
    start = time.time() - 3600

    def batch(first: int) -> dict:
        return {"series": [{"service_id": "ledger", "metric_name": "writes",
                            "points": [[start + first + k, float(first + k)] for k in range(20)]}]}

    assert engine.http.post("/api/v1/ingest/metrics", json=batch(0), headers=writer).status_code == 200
    owner = ray.get_actor(STORAGE_OWNER_NAME, namespace=engine.settings.ray.namespace)
    pid = ray.get(owner.__ray_call__.remote(lambda self: os.getpid()))
    os.kill(pid, signal.SIGKILL)

    acknowledged = [0]
    statuses = []
    for first in range(20, 400, 20):
        answer = engine.http.post("/api/v1/ingest/metrics", json=batch(first), headers=writer)
        statuses.append(answer.status_code)
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 503:
            assert answer.headers.get("Retry-After")
            # A client retries what was refused; once storage is back the retry is stored.
            wait_for(lambda f=first: engine.http.post("/api/v1/ingest/metrics", json=batch(f),
                                                      headers=writer).status_code == 200,
                     timeout=120, interval=0.5, what="storage to come back")
        acknowledged.append(first)
    assert ray.get(owner.__ray_call__.remote(lambda self: os.getpid())) != pid
    assert 503 in statuses, statuses  # the outage was seen, and answered as one

    def stored() -> int:
        answer = engine.http.get("/api/v1/series", params={"service_id": "ledger", "since": start - 60},
                                 headers=engine.auth(tenant=tenant, role=Role.VIEWER))
        return sum(len(s["points"]) for s in answer.json()["series"]) if answer.status_code == 200 else -1

    assert stored() == 20 * len(acknowledged)  # every acknowledged point, once
    record_property("measured", f"{statuses.count(503)} of {len(statuses)} writes answered 503, the rest 200; "
                                f"{stored()} of {20 * len(acknowledged)} acknowledged points stored once")


def test_a_new_owner_answers_its_first_call_on_the_current_schema(engine: RunningEngine, tmp_path) -> None:
    """The owner migrates in its constructor: actors started beside it never see an old schema."""
    from actors.storage_owner import StorageOwner
    from aiops.settings import load_settings

    owner = ray.remote(StorageOwner).options(num_cpus=0, max_concurrency=4).remote(
        load_settings(data_dir=tmp_path / "fresh"))
    try:
        # No migrate() call first: the very first call already finds every table.
        assert ray.get(owner.list_all_tenants.remote(), timeout=120) == []
        assert ray.get(owner.rca_queue_all_tenants.remote(10), timeout=60) == []
        applied = ray.get(owner.migrate.remote(), timeout=60)
        assert applied and applied == sorted(applied)  # what the constructor applied, reported once
        assert ray.get(owner.migrate.remote(), timeout=60) == []
    finally:
        ray.kill(owner)
