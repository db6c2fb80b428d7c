"""An RCA worker killed mid-analysis: the request survives in ClickHouse and still completes."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime

import pytest
import ray

from actors.directory import RCA_WORKER, actor_name
from aiops.sharding import shard_for
from aiops.storage.gateway import StoreGateway
from aiops.storage.records import AnomalyRecord, RcaRecord
from tests.aiops.rca.synthetic import fault
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_anomalies import ingest, new_tenant
from tests.deployments.test_rca import MINUTE, get, last_minute, per_minute

pytestmark = pytest.mark.engine


@pytest.mark.reliability(
    fault="RCA worker killed (SIGKILL) mid-analysis",
    promise="the queued request survives and completes after the restart",
)
def test_a_killed_worker_does_not_lose_its_request(engine: RunningEngine, record_property) -> None:
    tenant = new_tenant(engine)
    end = last_minute()
    ingest(engine, tenant, per_minute(fault(minutes=120, fault_at=100, seed=7), end))
    store = StoreGateway(engine.settings, in_process=False).sync
    at = datetime.fromtimestamp(end - 19 * MINUTE, UTC)
    anomaly_id = "anom-killed-worker"
    store.upsert_anomalies([AnomalyRecord(tenant, anomaly_id, "api", "latency_ms", 1, {}, "watchdog", "ewma",
                                          0.99, 9.0, at, at, rca_triggered=True)])
    index = shard_for(anomaly_id, engine.settings.rca.workers)
    worker = ray.get_actor(actor_name(RCA_WORKER, index), namespace=engine.settings.ray.namespace)
    pid = ray.get(worker.__ray_call__.remote(lambda self: os.getpid()))
    # The durable state of a worker caught mid-analysis: the request claimed by it, running.
    now = datetime.now(UTC)
    store.save_rca(RcaRecord(tenant, anomaly_id, "running", requested_at=now, updated_at=now, attempts=1,
                             worker=index))
    assert get(engine, tenant, f"/api/v1/rca/{anomaly_id}").json()["status"] == "pending"
    os.kill(pid, signal.SIGKILL)

    def finished() -> dict | None:
        body = get(engine, tenant, f"/api/v1/rca/{anomaly_id}").json()
        return body if body["status"] != "pending" else None

    result = wait_for(finished, timeout=120, interval=0.5, what="the restarted worker to finish the request")
    assert result["status"] == "done", result
    assert result["root_causes"][0]["service_id"] == "db"
    assert ray.get(worker.__ray_call__.remote(lambda self: os.getpid())) != pid
    assert store.get_rca(tenant, anomaly_id).attempts == 2  # the claim before the crash, and the one after
    record_property("measured", f"request done after restart, attempts {store.get_rca(tenant, anomaly_id).attempts}, "
                                f"root cause {result['root_causes'][0]['service_id']}")


@pytest.mark.reliability(
    fault="an RCA request whose analysis kills workers every time",
    promise="gives up after rca.max_attempts with the reason, instead of crash-looping",
)
def test_a_request_that_keeps_killing_workers_fails_with_a_reason(engine: RunningEngine, record_property) -> None:
    tenant = new_tenant(engine)
    store = StoreGateway(engine.settings, in_process=False).sync
    now = datetime.now(UTC)
    anomaly_id = "anom-crash-loop"
    store.upsert_anomalies([AnomalyRecord(tenant, anomaly_id, "api", "latency_ms", 1, {}, "watchdog", "ewma",
                                          0.99, 9.0, now, now)])
    attempts = engine.settings.rca.max_attempts
    stale = datetime.fromtimestamp(now.timestamp() - engine.settings.rca.claim_timeout_seconds - 5, UTC)
    store.save_rca(RcaRecord(tenant, anomaly_id, "running", requested_at=stale, updated_at=stale,
                             attempts=attempts, worker=99))
    result = wait_for(lambda: (b := get(engine, tenant, f"/api/v1/rca/{anomaly_id}").json())["status"] != "pending"
                      and b, timeout=30, interval=0.25, what="the request to be given up")
    assert result["status"] == "failed" and "attempts" in result["reason"]
    record_property("measured", f"failed: {result['reason']}")
