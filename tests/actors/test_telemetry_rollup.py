"""A telemetry rollup killed between passes: closed minutes are still rolled up, each once."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
import ray

from actors.directory import TELEMETRY_ROLLUP, actor_name
from aiops.auth.roles import Role
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_otlp import PROTOBUF, new_tenant, spans_request

pytestmark = pytest.mark.engine


@pytest.mark.reliability(
    fault="telemetry-rollup actor killed (SIGKILL) with spans waiting to be rolled up",
    promise="after its restart the minute's health series appear, written once",
)
def test_a_killed_rollup_rolls_the_minute_up_once_after_restart(engine: RunningEngine, record_property) -> None:
    tenant, key = new_tenant(engine)
    rollup = ray.get_actor(actor_name(TELEMETRY_ROLLUP, 0), namespace=engine.settings.ray.namespace)
    pid = ray.get(rollup.__ray_call__.remote(lambda self: os.getpid()))
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=4)
    body = spans_request("killed-rollup", 30, start_ns=int(minute.timestamp() * 1e9) + 10**9)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    assert engine.http.post("/v1/traces", content=body.SerializeToString(),
                            headers={**PROTOBUF, "X-API-Key": key}).status_code == 200
    params = {"service_id": "killed-rollup", "metric_name": "span_requests_per_minute",
              "since": (minute - timedelta(minutes=1)).isoformat(),
              "until": (minute + timedelta(minutes=2)).isoformat()}
    headers = engine.auth(tenant=tenant, role=Role.VIEWER)
    series = wait_for(lambda: engine.http.get("/api/v1/series", params=params, headers=headers).json()["series"],
                      timeout=90, what="the minute rolled up after the restart")
    assert [s["points"] for s in series] == [[[minute.timestamp(), 30.0]]]
    assert ray.get(rollup.__ray_call__.remote(lambda self: os.getpid())) != pid
    record_property("measured", f"series back {time.monotonic() - killed:.1f} s after the kill, one point")
