"""Numbers at the edge (kind 9) and overwrites (kind 10), through the running engine."""

from __future__ import annotations

import base64
import json
import math
import secrets
import time
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops.auth.roles import Role
from aiops.storage.gateway import StoreGateway
from tests.conftest import RunningEngine
from tests.deployments.test_anomalies import new_tenant
from tests.deployments.test_ingest import points_seen_by_watchdog, post_json, read
from tests.properties import ENGINE_PROPERTY

pytestmark = pytest.mark.engine


def minute_start() -> int:
    return (int(time.time()) // 60) * 60 - 300


def rollup_means(engine: RunningEngine, tenant: str, since: int, until: int) -> list[float]:
    """What an RCA frame reads for the tenant: the per-minute rollup's averages."""
    at, _, _, values = StoreGateway(engine.settings, in_process=False).sync.metric_frame(
        tenant, datetime.fromtimestamp(since, UTC), datetime.fromtimestamp(until, UTC), 60, 100)
    return [float(v) for _, v in sorted(zip(at, values, strict=True))]


@pytest.mark.reliability(
    fault="two readings of 1e308 in one minute (the report: the per-minute rollup became inf and "
          "/api/v1/series?step=60 answered null); the largest accepted magnitudes, ±1e150, in one minute",
    promise="values beyond ±1e150 refused with 422 naming the point; every average and rollup of what is "
            "stored stays finite",
    kind="9 numbers at the edge",
)
def test_huge_readings_never_make_an_aggregate_infinite(engine: RunningEngine, record_property) -> None:
    tenant, start = new_tenant(engine), minute_start()
    svc = f"edge-{secrets.token_hex(3)}"
    refused = post_json(engine, {"series": [{"service_id": svc, "metric_name": "m",
                                             "points": [[start, 1e308], [start + 10, 1e308]]}]}, tenant=tenant)
    assert refused.status_code == 422 and "series[0] (" in refused.json()["error"]["message"]
    assert "point[0]" in refused.json()["error"]["message"] and "1e+150" in refused.json()["error"]["message"]
    stored = post_json(engine, {"series": [{"service_id": svc, "metric_name": "m", "points": [
        [start, 1e150], [start + 10, 1e150], [start + 60, -1e150], [start + 70, 1e150]]}]}, tenant=tenant)
    assert stored.status_code == 200, stored.text
    averaged = read(engine, svc, tenant=tenant, step=60, since=start, until=start + 120)[0]["points"]
    assert averaged == [[start, 1e150], [start + 60, 0.0]]
    rollup = rollup_means(engine, tenant, start, start + 120)
    assert rollup == [1e150, 0.0] and all(math.isfinite(v) for v in rollup)
    record_property("measured", f"1e308: 422 ({refused.json()['error']['message'][:70]}...); two 1e150 in a "
                                f"minute: step=60 {averaged[0][1]:g}, rollup {rollup[0]:g} (finite)")


@pytest.mark.reliability(
    fault="crafted page_token values: year 1, a huge time, a float, not base64, an empty id",
    promise="422 naming page_token (the report: 500)",
    kind="9 numbers at the edge",
)
def test_crafted_page_tokens_are_422(engine: RunningEngine, record_property) -> None:
    def token(data) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    crafted = [token({"at": -62135596800000, "id": "anom-x"}), token({"at": 10**20, "id": "anom-x"}),
               token({"at": 1.5, "id": "anom-x"}), "!!!not-base64!!!", token({"at": 0, "id": ""})]
    statuses = []
    for page_token in crafted:
        response = engine.http.get("/api/v1/anomalies", params={"page_token": page_token},
                                   headers=engine.auth(role=Role.VIEWER))
        statuses.append(response.status_code)
        assert response.status_code == 422 and "page_token" in response.json()["error"]["message"], response.text
    record_property("measured", f"{len(crafted)} crafted tokens: {statuses}")


def test_property_any_value_is_stored_finite_or_refused(engine: RunningEngine) -> None:
    tenant, start = new_tenant(engine), minute_start()

    @ENGINE_PROPERTY
    @given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
        [1e150, -1e150, 1.0000001e150, 5e-324, 1.7976931348623157e308]), min_size=1, max_size=6))
    def check(values: list[float]) -> None:
        svc = f"v-{secrets.token_hex(3)}"
        points = [[start + 10 * i, v] for i, v in enumerate(values)]
        response = post_json(engine, {"series": [{"service_id": svc, "metric_name": "m", "points": points}]},
                             tenant=tenant)
        if any(abs(v) > 1e150 for v in values):
            assert response.status_code == 422, response.text
            return
        assert response.status_code == 200, response.text
        averaged = read(engine, svc, tenant=tenant, step=60, since=start, until=start + 60)[0]["points"]
        assert all(math.isfinite(v) for _, v in averaged)
        assert averaged[0][1] == pytest.approx(float(np.mean(values)), rel=1e-9, abs=1e-300)

    check()


@pytest.mark.reliability(
    fault="[[T, 50]] and later [[T, 500]] for the same series (the report: 200 twice; the watchdog saw 50, "
          "storage and /api/v1/series said 500)",
    promise="first write wins: the second is 409 naming the point; storage, the rollup and detection all keep 50; "
            "a re-send of [[T, 50]] is a harmless 200",
    kind="10 overwrites",
)
def test_a_stored_point_is_never_changed(engine: RunningEngine, record_property) -> None:
    tenant, start = new_tenant(engine), minute_start()
    svc = f"ow-{secrets.token_hex(3)}"

    def send(value: float):
        return post_json(engine, {"series": [{"service_id": svc, "metric_name": "m", "points": [[start, value]]}]},
                         tenant=tenant)

    assert send(50.0).status_code == 200
    seen = points_seen_by_watchdog(engine, tenant)
    conflict = send(500.0)
    assert conflict.status_code == 409, conflict.text
    message = conflict.json()["error"]["message"]
    assert f"{svc}/m" in message and "500 differs from the stored 50" in message
    assert datetime.fromtimestamp(start, UTC).isoformat().replace("+00:00", "Z") in message
    assert send(50.0).status_code == 200  # the same value again: nothing changes
    assert read(engine, svc, tenant=tenant, since=start, until=start + 60)[0]["points"] == [[start, 50.0]]
    assert rollup_means(engine, tenant, start, start + 60) == [50.0]
    assert points_seen_by_watchdog(engine, tenant) == seen  # detection saw the point once, as 50
    record_property("measured", f"second write 409 ({message[:100]}...); series, rollup and watchdog: 50, once")
