"""Root-cause analysis over real HTTP: correlation graph, topology, and the live RCA path."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from aiops.auth.roles import Role
from aiops.storage.gateway import StoreGateway
from aiops.storage.records import AnomalyRecord
from tests.aiops.rca.synthetic import chain, fault
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_anomalies import anomalies, ingest, new_tenant

pytestmark = pytest.mark.engine

MINUTE = 60


def per_minute(series: dict, end: float) -> list[dict]:
    out = []
    for key, values in series.items():
        service, metric = key if isinstance(key, tuple) else (key, "value")
        stamps = end - MINUTE * np.arange(values.size)[::-1]
        out.append({"service_id": service, "metric_name": metric,
                    "points": [[float(t), float(v)] for t, v in zip(stamps, values, strict=True)]})
    return out


def last_minute() -> float:
    return math.floor(time.time() / MINUTE) * MINUTE - MINUTE


def get(engine: RunningEngine, tenant: str, path: str, **params):
    return engine.http.get(path, params=params, headers=engine.auth(tenant=tenant, role=Role.VIEWER))


@pytest.fixture(scope="module")
def chained(engine: RunningEngine) -> str:
    tenant = new_tenant(engine)
    ingest(engine, tenant, per_minute(chain(minutes=90, lag=2, seed=5), last_minute()))
    return tenant


def correlations(engine: RunningEngine, tenant: str, service: str, depth: int) -> dict[str, tuple]:
    response = get(engine, tenant, "/api/v1/rca/correlations", service_id=service, depth=depth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service_id"] == service
    return {c["related_service"]: (c["lag_minutes"], c["direction"]) for c in body["correlations"]}


def test_a_planted_chain_has_the_right_lags_directions_and_depth(engine: RunningEngine, chained: str) -> None:
    assert correlations(engine, chained, "a", 1) == {"b": (2, "downstream")}
    assert correlations(engine, chained, "a", 2) == {"b": (2, "downstream"), "c": (4, "downstream")}
    assert correlations(engine, chained, "c", 3) == {"b": (-2, "upstream"), "a": (-4, "upstream")}
    assert correlations(engine, chained, "d", 3) == {}  # known, unrelated
    body = get(engine, chained, "/api/v1/rca/correlations", service_id="a", depth=1).json()["correlations"][0]
    assert set(body) >= {"related_service", "correlation_score", "lag_minutes", "direction"}
    assert 0.6 <= body["correlation_score"] <= 1


def test_correlation_queries_refuse_bad_parameters(engine: RunningEngine, chained: str) -> None:
    assert get(engine, chained, "/api/v1/rca/correlations", service_id="nope").status_code == 404
    for params in ({"service_id": "a", "depth": 0}, {"service_id": "a", "depth": 11}, {"depth": 2},
                   {"service_id": "a", "depth": "deep"}):
        response = get(engine, chained, "/api/v1/rca/correlations", **params)
        assert response.status_code == 422, (params, response.text)
    # Another tenant does not see this tenant's services.
    assert get(engine, "globex", "/api/v1/rca/correlations", service_id="a").status_code == 404


def declared(response) -> list[dict]:
    return [{"caller": e["caller"], "callee": e["callee"]} for e in response.json()["edges"]
            if e["source"] == "declared"]


def test_topology_is_replaced_as_a_whole_and_validated(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    writer = engine.auth(tenant=tenant, role=Role.OPERATOR)
    edges = [{"caller": "web", "callee": "api"}, {"caller": "api", "callee": "db"}]
    response = engine.http.put("/api/v1/topology", json={"edges": edges}, headers=writer)
    assert response.status_code == 200 and response.json()["services"] == 3
    assert declared(get(engine, tenant, "/api/v1/topology")) == edges
    for bad in ({"edges": [{"caller": "a", "callee": "a"}]}, {"edges": [{"caller": "a"}]}, {"edge": []},
                {"edges": [{"caller": "", "callee": "b"}]}):
        response = engine.http.put("/api/v1/topology", json=bad, headers=writer)
        assert response.status_code == 422, (bad, response.text)
    assert declared(get(engine, tenant, "/api/v1/topology")) == edges  # refused: nothing changed
    assert engine.http.put("/api/v1/topology", json={"edges": []}, headers=writer).status_code == 200
    assert get(engine, tenant, "/api/v1/topology").json()["edges"] == []
    assert get(engine, "globex", "/api/v1/topology").json()["edges"] == []


def test_a_planted_root_cause_is_ranked_first_through_the_live_path(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    admin = engine.auth(tenant=tenant, role=Role.ADMIN)
    assert engine.http.put("/api/v1/models/detector", json={"name": "ewma", "config": {}},
                           headers=admin).status_code == 200
    calls = [{"caller": "web", "callee": "api"}, {"caller": "api", "callee": "db"}]
    assert engine.http.put("/api/v1/topology", json={"edges": calls}, headers=admin).status_code == 200
    ingest(engine, tenant, per_minute(fault(minutes=120, fault_at=100, seed=3), last_minute()))

    def db_anomaly() -> dict | None:
        found = anomalies(engine, tenant, service_id="db")["anomalies"]
        return next((a for a in found if a["metric_name"] == "latency_ms" and a["rca_triggered"]), None)

    anomaly = wait_for(db_anomaly, timeout=30, what="the db latency anomaly")

    def done() -> dict | None:
        body = get(engine, tenant, f"/api/v1/rca/{anomaly['anomaly_id']}").json()
        return body if body["status"] != "pending" else None

    result = wait_for(done, timeout=60, interval=0.25, what="the RCA to finish")
    assert result["status"] == "done", result
    assert result["root_causes"][0]["service_id"] == "db"
    evidence = result["root_causes"][0]["evidence"][0]
    assert evidence["metric_name"] == "latency_ms" and evidence["z_score"] > 5 and evidence["at"]
    blast = {b["service_id"]: b for b in result["blast_radius"]}
    assert {"api", "web"} <= set(blast) and "cache" not in blast
    assert blast["api"]["depth"] == 1 and blast["web"]["depth"] in (1, 2)
    assert all(b["lag_minutes"] >= 0 for b in blast.values())
    assert "db" in result["summary"] and "api" in result["summary"]
    assert result["ranker"] == engine.settings.rca.ranker and result["similar_incidents"] == []
    # Asking again returns the stored result; nothing is re-run.
    assert get(engine, tenant, f"/api/v1/rca/{anomaly['anomaly_id']}").json() == result


def test_an_rca_is_requested_on_demand_and_unknown_ids_are_404(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    assert get(engine, tenant, "/api/v1/rca/anom-missing").status_code == 404
    admin = engine.auth(tenant=tenant, role=Role.ADMIN)
    assert engine.http.put("/api/v1/models/ranker", json={"name": "nsigma", "config": {}},
                           headers=admin).status_code == 200
    end = last_minute()
    ingest(engine, tenant, per_minute(fault(minutes=120, fault_at=100, seed=4), end))
    at = datetime.fromtimestamp(end - 19 * MINUTE, UTC)  # the fault's minute
    record = AnomalyRecord(tenant, "anom-on-demand", "web", "latency_ms", 1, {}, "watchdog", "ewma", 0.5, 3.0, at, at)
    StoreGateway(engine.settings, in_process=False).sync.upsert_anomalies([record])
    first = get(engine, tenant, "/api/v1/rca/anom-on-demand").json()
    assert first["status"] in ("pending", "done")
    result = wait_for(lambda: (b := get(engine, tenant, "/api/v1/rca/anom-on-demand").json())["status"] == "done"
                      and b, timeout=60, interval=0.25, what="the on-demand RCA")
    assert result["ranker"] == "nsigma" and result["root_causes"][0]["service_id"] == "db"
    assert result["requested_at"] == first["requested_at"]  # the same request, not a second one


def test_a_symptoms_rca_names_only_what_it_calls_when_an_unrelated_fault_is_louder(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    admin = engine.auth(tenant=tenant, role=Role.ADMIN)
    assert engine.http.put("/api/v1/models/detector", json={"name": "ewma", "config": {}},
                           headers=admin).status_code == 200  # the watchdog is not what is tested here
    calls = [{"caller": "web", "callee": "api"}, {"caller": "api", "callee": "db"}]
    assert engine.http.put("/api/v1/topology", json={"edges": calls}, headers=admin).status_code == 200
    series = fault(minutes=120, fault_at=100, seed=4)
    series[("cache", "cpu")][100:] += 60  # a second problem at the same minute, louder, that web does not call
    end = last_minute()
    ingest(engine, tenant, per_minute(series, end))
    at = datetime.fromtimestamp(end - 19 * MINUTE, UTC)  # the faults' minute
    store = StoreGateway(engine.settings, in_process=False).sync
    symptoms = (("web", "latency_ms"), ("cache", "cpu"))
    store.upsert_anomalies([AnomalyRecord(tenant, f"anom-{service}", service, metric, 1, {}, "watchdog", "ewma", 0.5,
                                          3.0, at, at) for service, metric in symptoms])

    def rca(anomaly_id: str) -> dict:
        return wait_for(lambda: (b := get(engine, tenant, f"/api/v1/rca/{anomaly_id}").json())["status"] == "done"
                        and b, timeout=60, interval=0.25, what=f"the RCA of {anomaly_id}")

    web = rca("anom-web")
    assert web["root_causes"][0]["service_id"] == "db"
    assert {c["service_id"] for c in web["root_causes"]} <= {"web", "api", "db"}
    assert math.isclose(sum(c["score"] for c in web["root_causes"]), 1.0, abs_tol=1e-6)
    # cache calls nothing known: its own RCA ranks every service, and names itself.
    assert rca("anom-cache")["root_causes"][0]["service_id"] == "cache"


def test_a_fault_seen_only_in_spans_is_ranked_first_through_otlp(engine: RunningEngine) -> None:
    """A callee made slow in its spans only (every service's metrics are plain noise), sent as OTLP
    spans: the default ranker reads the stored spans and names the callee, with trace evidence."""
    from aiops.bench.traced_tenant import traced_tenant
    from aiops.demo.traces import export_request
    from tests.deployments.test_otlp import new_tenant as otlp_tenant
    from tests.deployments.test_otlp import trace_count

    tenant, key = otlp_tenant(engine)
    origin = last_minute() - 30 * MINUTE
    simulated = traced_tenant(8, fault="slow", faulty=4, minutes=30, fault_minute=20, requests_per_minute=12,
                              seed=7, origin=origin)
    response = engine.http.post("/v1/traces", content=export_request(simulated.spans).SerializeToString(),
                                headers={"Content-Type": "application/x-protobuf", "X-API-Key": key})
    assert response.status_code == 200, response.text
    frame = simulated.frame
    ingest(engine, tenant, [{"service_id": service, "metric_name": metric,
                             "points": np.c_[frame.times, frame.values[row]].tolist()}
                            for row, (service, metric) in enumerate(frame.columns)])
    assert trace_count(engine, tenant, "svc-04") > 0  # a 200 means stored
    at = datetime.fromtimestamp(simulated.start, UTC)
    record = AnomalyRecord(tenant, "anom-traced", "svc-00", "server_latency_p95_ms", 1, {}, "watchdog", "ewma", 0.5,
                           3.0, at, at)
    StoreGateway(engine.settings, in_process=False).sync.upsert_anomalies([record])
    get(engine, tenant, "/api/v1/rca/anom-traced")
    result = wait_for(lambda: (b := get(engine, tenant, "/api/v1/rca/anom-traced").json())["status"] == "done"
                      and b, timeout=60, interval=0.25, what="the RCA of the traced fault")
    assert result["ranker"] == engine.settings.rca.ranker == "multimodal"
    top = result["root_causes"][0]
    assert top["service_id"] == "svc-04", result["root_causes"][:3]
    own = next(e for e in top["evidence"] if e["metric_name"] == "span_self_time")
    assert own["kind"] == "trace" and own["operation"] == "handle svc-04" and own["observed"] > 4 * own["expected"]
