"""Metric ingestion over real HTTP: round trips, exactly-once retries, every refusal."""

from __future__ import annotations

import secrets
import time

import cramjam
import orjson
import pytest
import ray

from actors.directory import WATCHDOG_SHARD, actor_name
from aiops.auth.roles import Role
from aiops.ingest.remote_write import encode_write_request
from aiops.sharding import shard_for
from tests.conftest import RunningEngine

pytestmark = pytest.mark.engine

PROTOBUF = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


def service() -> str:
    return f"svc-{secrets.token_hex(3)}"


def read(engine: RunningEngine, service_id: str, tenant: str = "acme", **params) -> list[dict]:
    response = engine.http.get("/api/v1/series", params={"service_id": service_id, **params},
                               headers=engine.auth(tenant=tenant, role=Role.VIEWER))
    assert response.status_code == 200, response.text
    return response.json()["series"]


def events_this_month(engine: RunningEngine, tenant: str) -> int:
    tenants = engine.http.get("/api/v1/tenants", headers=engine.auth(tenant="root", role=Role.SUPER_ADMIN)).json()
    return next(t["events_this_month"] for t in tenants["tenants"] if t["tenant_id"] == tenant)


def points_seen_by_watchdog(engine: RunningEngine, tenant: str) -> int:
    name = actor_name(WATCHDOG_SHARD, shard_for(tenant, engine.settings.watchdog.shards))
    shard = ray.get_actor(name, namespace=engine.settings.ray.namespace)
    return ray.get(shard.status.remote())["points_by_tenant"].get(tenant, 0)


def post_json(engine: RunningEngine, body, *, tenant: str = "acme", headers: dict | None = None):
    return engine.http.post("/api/v1/ingest/metrics", content=orjson.dumps(body),
                            headers={"Content-Type": "application/json",
                                     **(headers or engine.auth(tenant=tenant, role=Role.OPERATOR))})


def test_json_round_trip(engine: RunningEngine) -> None:
    svc, now = service(), int(time.time())
    rfc3339 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    body = {"series": [
        {"service_id": svc, "metric_name": "cpu_usage_percent", "labels": {"pod": "a"},
         "points": [[now - 120, 42.0], [now - 60, 43.5], [now, 44]]},
        {"service_id": svc, "metric_name": "latency_ms", "points": [[rfc3339, 7.5]]},
    ]}
    before_events, before_seen = events_this_month(engine, "acme"), points_seen_by_watchdog(engine, "acme")
    response = post_json(engine, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "accepted": 4}

    series = {s["metric_name"]: s for s in read(engine, svc)}
    assert series["cpu_usage_percent"]["labels"] == {"pod": "a"}
    assert series["cpu_usage_percent"]["points"] == [[now - 120, 42.0], [now - 60, 43.5], [now, 44.0]]
    assert series["latency_ms"]["points"] == [[now, 7.5]]
    assert series["latency_ms"]["service_id"] == svc
    assert [s["metric_name"] for s in read(engine, svc, metric_name="latency_ms")] == ["latency_ms"]
    assert events_this_month(engine, "acme") == before_events + 4
    assert points_seen_by_watchdog(engine, "acme") == before_seen + 4
    assert 'aiops_ingest_points_total{format="json"}' in engine.http.get("/metrics").text


def test_step_averages(engine: RunningEngine) -> None:
    svc = service()
    start = (int(time.time()) // 600) * 600 - 600
    points = [[start + 10 * i, float(i)] for i in range(12)]  # two minutes of 10 s points
    assert post_json(engine, {"series": [{"service_id": svc, "metric_name": "m", "points": points}]}).status_code == 200
    averaged = read(engine, svc, step=60, since=start, until=start + 120)
    assert averaged[0]["points"] == [[start, 2.5], [start + 60, 8.5]]


def test_remote_write_round_trip(engine: RunningEngine) -> None:
    job, now_ms = service(), int(time.time() * 1000)
    stale_nan = float("nan")  # Prometheus marks a vanished series with a NaN sample
    body = encode_write_request([
        ({"__name__": "http_requests_total", "job": job, "instance": "10.0.0.1:9100"},
         [(now_ms - 2000, 10.0), (now_ms - 1000, 12.0), (now_ms, stale_nan)]),
        ({"__name__": "up", "service": "explicit", "job": job}, [(now_ms, 1.0)]),
    ])
    response = engine.http.post("/api/v1/ingest/prometheus", content=body,
                                headers={**PROTOBUF, **engine.auth(role=Role.OPERATOR)})
    assert response.status_code == 200, response.text
    # The NaN (a staleness marker) is skipped, and said so (nothing a sender sends vanishes silently).
    assert response.json() == {"status": "ok", "accepted": 3, "skipped": {"non_finite": 1}}
    series = read(engine, job)
    assert len(series) == 1
    assert series[0]["metric_name"] == "http_requests_total"
    assert series[0]["labels"] == {"instance": "10.0.0.1:9100", "job": job}
    assert series[0]["points"] == [[(now_ms - 2000) / 1000, 10.0], [(now_ms - 1000) / 1000, 12.0]]
    assert read(engine, "explicit")[0]["metric_name"] == "up"  # `service` wins over `job`


def test_ingestion_key_in_both_headers(engine: RunningEngine) -> None:
    _, key = engine.create_key("ingestion")
    svc, now = service(), time.time()
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        body = {"series": [{"service_id": svc, "metric_name": "m", "points": [[now, 1.0]]}]}
        assert post_json(engine, body, headers=headers).status_code == 200
        now -= 1
    assert len(read(engine, svc)[0]["points"]) == 2


@pytest.mark.reliability(
    fault="client retries of the same batch (JSON x3, remote_write x2)",
    promise="stored once, counted once, detected once",
)
def test_retries_are_stored_and_seen_once(engine: RunningEngine, record_property) -> None:
    svc, now = service(), time.time()
    body = {"series": [{"service_id": svc, "metric_name": "m", "points": [[now - i, float(i)] for i in range(50)]}]}
    before_events, before_seen = events_this_month(engine, "acme"), points_seen_by_watchdog(engine, "acme")
    for _ in range(3):
        assert post_json(engine, body).json() == {"status": "ok", "accepted": 50}
    assert len(read(engine, svc)[0]["points"]) == 50
    assert events_this_month(engine, "acme") == before_events + 50
    assert points_seen_by_watchdog(engine, "acme") == before_seen + 50

    remote = encode_write_request([({"__name__": "m", "job": svc + "-rw"}, [(int(now * 1000), 1.0)])])
    for _ in range(2):
        assert engine.http.post("/api/v1/ingest/prometheus", content=remote,
                                headers={**PROTOBUF, **engine.auth(role=Role.OPERATOR)}).status_code == 200
    assert len(read(engine, svc + "-rw")[0]["points"]) == 1
    record_property("measured", "50 points stored, billed and scored once after 3 sends; remote_write 1 of 1")


def good_series(svc: str) -> dict:
    return {"service_id": svc, "metric_name": "m", "points": [[time.time(), 1.0]]}


def with_points(svc: str, *points) -> dict:
    return {"series": [good_series(svc), {**good_series(svc), "points": list(points)}]}


def as_json(build):
    return lambda svc: orjson.dumps(build(svc))


# name -> (body for a fresh service, status, words the message must contain)
REFUSALS = {
    "malformed json": (lambda svc: b'{"series": [', 400, "malformed"),
    "not an object": (lambda svc: b"[1, 2]", 422, "Expected `object`"),
    "unknown field": (as_json(lambda svc: {"series": [good_series(svc)], "extra": 1}), 422, "extra"),
    "bool value": (as_json(lambda svc: with_points(svc, [1, True])), 422, "$.series[1].points[0][1]"),
    "string value": (as_json(lambda svc: with_points(svc, [time.time(), "4"])), 422, "$.series[1].points[0][1]"),
    "empty service": (as_json(lambda svc: {"series": [good_series(svc), {**good_series(svc), "service_id": " "}]}),
                      422, "series[1]"),
    "no points": (as_json(lambda svc: with_points(svc)), 422, "series[1]"),
    "infinite": (lambda svc: orjson.dumps(with_points(svc, [time.time(), 1.0], [time.time(), 12345.5]))
                 .replace(b"12345.5", b"1e999"), 422, "$.series[1].points[1][1]"),
    "too old": (as_json(lambda svc: with_points(svc, [time.time(), 1], [time.time() - 8 * 86400, 1])), 422,
                "series[1]"),
    "future": (as_json(lambda svc: with_points(svc, [time.time() + 3600, 1])), 422, "too far in the future"),
    "bad timestamp text": (as_json(lambda svc: with_points(svc, ["yesterday", 1])), 422,
                           "neither unix seconds nor RFC3339"),
    "too many labels": (as_json(lambda svc: {"series": [{**good_series(svc), "labels": {f"l{i}": "v" for i in
                                                                                       range(65)}}]}),
                        422, "more than 64 labels"),
    "no series": (lambda svc: b'{"series": []}', 422, "at least one series"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refused_json_batches_store_nothing(engine: RunningEngine, name: str) -> None:
    svc = service()
    build, status, message = REFUSALS[name]
    before = events_this_month(engine, "acme")
    response = engine.http.post("/api/v1/ingest/metrics", content=build(svc),
                                headers={"Content-Type": "application/json", **engine.auth(role=Role.OPERATOR)})
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]
    assert read(engine, svc) == []
    assert events_this_month(engine, "acme") == before


def test_wrong_content_types_are_415(engine: RunningEngine) -> None:
    body = orjson.dumps({"series": [good_series(service())]})
    text = engine.http.post("/api/v1/ingest/metrics", content=body,
                            headers={"Content-Type": "text/plain", **engine.auth(role=Role.OPERATOR)})
    assert text.status_code == 415
    gzip = engine.http.post("/api/v1/ingest/prometheus", content=b"x",
                            headers={**PROTOBUF, "Content-Encoding": "gzip", **engine.auth(role=Role.OPERATOR)})
    assert gzip.status_code == 415


@pytest.mark.parametrize("body, message", [
    (b"definitely not snappy", "snappy"),
    (bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff\xff")), "protobuf"),
])
def test_malformed_remote_write_is_400(engine: RunningEngine, body: bytes, message: str) -> None:
    response = engine.http.post("/api/v1/ingest/prometheus", content=body,
                                headers={**PROTOBUF, **engine.auth(role=Role.OPERATOR)})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


def test_remote_write_without_a_service_label_is_422(engine: RunningEngine) -> None:
    body = encode_write_request([({"__name__": "orphan"}, [(int(time.time() * 1000), 1.0)])])
    response = engine.http.post("/api/v1/ingest/prometheus", content=body,
                                headers={**PROTOBUF, **engine.auth(role=Role.OPERATOR)})
    assert response.status_code == 422
    assert "service_id, service, job" in response.json()["error"]["message"]


def test_body_over_the_limit_is_413_before_parsing(engine: RunningEngine) -> None:
    limit = engine.settings.ingest.max_body_bytes
    response = engine.http.post("/api/v1/ingest/metrics", content=b"x" * (limit + 1),
                                headers={"Content-Type": "application/json", **engine.auth(role=Role.OPERATOR)})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_cardinality_and_point_quotas_are_429(engine: RunningEngine) -> None:
    tenant = f"tiny-{secrets.token_hex(3)}"
    created = engine.http.post("/api/v1/tenants", json={"tenant_id": tenant, "name": "Tiny", "plan": "tiny"},
                               headers=engine.auth(tenant="root", role=Role.SUPER_ADMIN))
    assert created.status_code == 201
    now = time.time()

    def series(names, at):
        return {"series": [{"service_id": "api", "metric_name": name, "points": [[at, 1.0]]} for name in names]}

    assert post_json(engine, series(["a", "b", "c"], now), tenant=tenant).status_code == 200  # plan: 3 series
    refused = post_json(engine, series(["a", "d"], now + 1), tenant=tenant)
    assert refused.status_code == 429
    assert "series limit" in refused.json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert [s["metric_name"] for s in read(engine, "api", tenant=tenant)] == ["a", "b", "c"]
    assert all(len(s["points"]) == 1 for s in read(engine, "api", tenant=tenant))  # nothing of it was stored

    # 50 points per second, burst 100: a batch over the burst can never pass.
    too_big = {"series": [{"service_id": "api", "metric_name": "a",
                           "points": [[now - i * 0.01, 1.0] for i in range(101)]}]}
    assert post_json(engine, too_big, tenant=tenant).status_code == 413
    answers = [post_json(engine, {"series": [{"service_id": "api", "metric_name": "a",
                                              "points": [[now - 10 - i - j * 0.001, 1.0] for j in range(40)]}]},
                         tenant=tenant) for i in range(6)]
    assert 429 in [a.status_code for a in answers]


def test_series_are_isolated_per_tenant(engine: RunningEngine) -> None:
    svc = service()
    assert post_json(engine, {"series": [good_series(svc)]}, tenant="acme").status_code == 200
    assert len(read(engine, svc, tenant="acme")) == 1
    assert read(engine, svc, tenant="globex") == []


@pytest.mark.parametrize("params", [
    {},
    {"service_id": "x", "step": 0},
    {"service_id": "x", "since": "not-a-time"},
    {"service_id": "x", "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
])
def test_bad_series_queries_are_422(engine: RunningEngine, params: dict) -> None:
    response = engine.http.get("/api/v1/series", params=params, headers=engine.auth(role=Role.VIEWER))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"
