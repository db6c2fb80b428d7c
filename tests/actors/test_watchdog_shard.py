"""A watchdog shard killed mid-stream comes back from its checkpoint and catches up."""

from __future__ import annotations

import math
import os
import signal
import time

import pytest
import ray

from actors.directory import WATCHDOG_SHARD, actor_name
from aiops.sharding import shard_for
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_anomalies import STEP, anomalies, ingest, new_tenant, seasonal_points

pytestmark = pytest.mark.engine


@pytest.mark.reliability(
    fault="watchdog shard killed (SIGKILL) mid-stream",
    promise="restarts from its checkpoint, replays stored points once, keeps detecting",
)
def test_killed_shard_continues_from_its_checkpoint(engine: RunningEngine, record_property) -> None:
    tenant = new_tenant(engine)
    shard = ray.get_actor(actor_name(WATCHDOG_SHARD, shard_for(tenant, engine.settings.watchdog.shards)),
                          namespace=engine.settings.ray.namespace)
    end = math.floor(time.time() / STEP) * STEP - STEP
    history = seasonal_points(end, spike_at_end=False, seed=11)  # three days
    before, after = history[:-72], history[-72:-3]  # the last 6 hours arrive after the checkpoint
    ingest(engine, tenant, [{"service_id": "api", "metric_name": "cpu", "points": before}])
    assert ray.get(shard.checkpoint.remote()) >= 1
    ingest(engine, tenant, [{"service_id": "api", "metric_name": "cpu", "points": after}])

    pid = ray.get(shard.__ray_call__.remote(lambda self: os.getpid()))
    os.kill(pid, signal.SIGKILL)

    def restarted() -> dict | None:
        if ray.get(shard.__ray_call__.remote(lambda self: os.getpid()), timeout=10) == pid:
            return None
        return ray.get(shard.status.remote(), timeout=10)

    status = wait_for(restarted, timeout=90, interval=0.5, what="the shard to restart")
    assert status["restored_tenants"] >= 1
    # Restored state plus the points stored after the checkpoint: every point, once.
    assert status["points_by_tenant"][tenant] == len(before) + len(after)
    record_property("measured", f"restarted; {status['restored_tenants']} tenant(s) restored; "
                                f"{status['points_by_tenant'][tenant]} of {len(before) + len(after)} points seen once")

    spike = [[history[-3][0], history[-3][1] + 40], history[-2], history[-1]]
    ingest(engine, tenant, [{"service_id": "api", "metric_name": "cpu", "points": spike}])
    found = anomalies(engine, tenant)["anomalies"]
    assert len(found) == 1 and found[0]["service_id"] == "api"
