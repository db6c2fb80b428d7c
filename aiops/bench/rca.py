"""Root-cause analysis speed and accuracy.

1. The correlation graph (batched FFT cross-correlation, edge extraction, pruning) for
   200 and 2,000 services x 60 one-minute points x lags +-10, on whatever device torch
   picks (CUDA when present, else CPU): the same code the RCA workers run.
2. A scratch engine: a 12-service tenant with two hours of per-minute history; each round
   posts ten minutes in which one service's latency jumps (its callers follow a minute
   later each). Timed from that POST until ``GET /api/v1/rca/{id}`` of the watchdog's
   anomaly answers ``done``, and whether the root cause was ranked first.
3. The sock-shop fault-injection cases (RCAEval metrics) when ``../shared/data/rca`` is
   present, or ``AIOPS_BENCH_RCA_CASES`` names a case folder with a ``.labels.json`` beside.
4. One analysis with traces (``multimodal``): a simulated 50-service tenant
   (:mod:`aiops.bench.traced_tenant`) with an hour and a quarter of per-minute metrics, 60
   traced requests a minute and their log lines, through the same ``analyse`` the RCA workers
   and ``aiops eval rca`` run (graph learning included); p50 and p95 over repeated runs, with
   spans and metrics, and with logs as well.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np

from aiops.bench.engine_process import bench_engine
from aiops.bench.report import BenchResult
from aiops.rca.correlation import default_device
from aiops.rca.frame import MetricFrame
from aiops.rca.graph import learn_edges

ROUNDS = 12
SERVICES = [f"svc-{i:02d}" for i in range(12)]
MINUTE = 60


def synthetic_frame(services: int, minutes: int = 60, seed: int = 0) -> MetricFrame:
    """``services`` series in chains of five, each repeating the previous one a minute or two later."""
    rng = np.random.default_rng(seed)
    values = np.empty((services, minutes))
    for first in range(0, services, 5):
        drive = rng.normal(size=minutes + 20)
        for k in range(first, min(first + 5, services)):
            shift = 2 * (k - first)
            values[k] = drive[10 - shift:10 - shift + minutes] + rng.normal(0, 0.3, minutes)
    columns = [(f"s{i}", "latency_ms") for i in range(services)]
    return MetricFrame(np.arange(minutes) * 60.0, 60.0, columns, values)


def graph_seconds(services: int, repeats: int) -> float:
    frame = synthetic_frame(services)
    learn_edges(frame, 10, 0.6)  # warm-up: torch's FFT plans, allocations
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        learn_edges(frame, 10, 0.6)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _series(minutes: int, offset: int, faulty: int | None, fault_at: int, rng: np.random.Generator) -> list[dict]:
    """Per-minute latency of a call chain svc-00 -> svc-01 -> ... (each calls the next); cpu noise."""
    own = {s: 10 + 3 * i for i, s in enumerate(SERVICES)}
    lat = {s: own[s] + rng.normal(0, 1, minutes) for s in SERVICES}
    if faulty is not None:  # the fault, then each caller up the chain a minute later
        for depth, k in enumerate(range(faulty, -1, -1)):
            lat[SERVICES[k]][min(minutes, fault_at + depth):] += 40
    stamps = [float(offset + MINUTE * m) for m in range(minutes)]
    out = []
    for s in SERVICES:
        out.append({"service_id": s, "metric_name": "latency_ms",
                    "points": [[t, float(v)] for t, v in zip(stamps, lat[s], strict=True)]})
        out.append({"service_id": s, "metric_name": "cpu",
                    "points": [[t, float(v)] for t, v in zip(stamps, 30 + rng.normal(0, 1, minutes), strict=True)]})
    return out


def alert_to_done() -> tuple[list[float], int]:
    latencies, right = [], 0
    with bench_engine() as engine, engine.client() as http:
        root = {"Authorization": f"Bearer {engine.token('root')}"}
        rng = np.random.default_rng(3)
        for round_ in range(ROUNDS):
            tenant = f"rca-{round_}"
            http.post("/api/v1/tenants", json={"tenant_id": tenant, "name": tenant, "plan": "enterprise"},
                      headers=root).raise_for_status()
            headers = {"Authorization": f"Bearer {engine.token(tenant)}"}
            http.put("/api/v1/models/detector", json={"name": "ewma", "config": {}}, headers=headers).raise_for_status()
            start = (int(time.time()) // MINUTE) * MINUTE - 130 * MINUTE
            http.post("/api/v1/ingest/metrics", headers=headers,
                      json={"series": _series(120, start, None, 0, rng)}).raise_for_status()
            faulty = int(rng.integers(3, len(SERVICES)))
            began = time.perf_counter()
            http.post("/api/v1/ingest/metrics", headers=headers,
                      json={"series": _series(10, start + 120 * MINUTE, faulty, 2, rng)}).raise_for_status()
            while time.perf_counter() - began < 60:
                found = http.get("/api/v1/anomalies", headers=headers, params={"min_score": 0.95}).json()["anomalies"]
                first = min((a for a in found if a["rca_triggered"]), key=lambda a: a["detected_at"], default=None)
                if first is not None:
                    body = http.get(f"/api/v1/rca/{first['anomaly_id']}", headers=headers).json()
                    if body["status"] != "pending":
                        latencies.append(time.perf_counter() - began)
                        right += bool(body["root_causes"]) and body["root_causes"][0]["service_id"] == SERVICES[faulty]
                        break
                time.sleep(0.05)
    return latencies, right


TRACED_SERVICES = 50
TRACED_REPEATS = 12


def traced_analysis_seconds(services: int = TRACED_SERVICES, repeats: int = TRACED_REPEATS,
                            with_logs: bool = False) -> tuple[list[float], bool]:
    """Wall seconds of ``repeats`` analyses of one simulated traced tenant, and whether its root came first."""
    from aiops.bench.traced_tenant import traced_tenant
    from aiops.rca.analysis import analyse
    from models.registry import build

    tenant = traced_tenant(services, fault="slow", minutes=75, fault_minute=60, requests_per_minute=60, fanout=3)
    ranker = build("ranker", "multimodal")
    logs = tenant.logs if with_logs else None
    analyse(tenant.frame, tenant.start, ranker, spans=tenant.spans, logs=logs)  # warm-up: imports, FFT plans
    times, right = [], True
    for _ in range(repeats):
        began = time.perf_counter()
        result = analyse(tenant.frame, tenant.start, ranker, spans=tenant.spans, logs=logs)
        times.append(time.perf_counter() - began)
        right = right and result.root is not None and result.root.service_id == tenant.root_cause
    return times, right


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _cases() -> tuple[Path, Path] | None:
    named = os.environ.get("AIOPS_BENCH_RCA_CASES")
    folder = Path(named) if named else Path(__file__).resolve().parents[3] / "shared" / "data" / "rca" / "sockshop"
    labels = folder.with_name(folder.name + ".labels.json")
    return (folder, labels) if folder.is_dir() and labels.is_file() else None


def run() -> BenchResult:
    import json

    from aiops.evaluation.rca import rank_cases, ranker_named, score
    from aiops.settings import load_settings

    result = BenchResult("rca")
    device = default_device().type
    result.add(f"correlation graph, 200 services x 60 min x lags +-10 ({device})", graph_seconds(200, 7) * 1000, "ms",
               "< 250")
    result.add(f"correlation graph, 2000 services x 60 min x lags +-10 ({device})", graph_seconds(2000, 2) * 1000,
               "ms")
    for with_logs, label in ((False, "spans + metrics"), (True, "spans + logs + metrics")):
        times, right = traced_analysis_seconds(with_logs=with_logs)
        note = (f"{TRACED_SERVICES} services, 75 min, 60 traced requests/min; root cause first: "
                f"{'yes' if right else 'NO'}")
        result.add(f"analysis with traces p50 ({label})", statistics.median(times), "s", note=note)
        result.add(f"analysis with traces p95 ({label})", _p95(times), "s", "< 2" if not with_logs else "",
                   note=note)
    cases = _cases()
    if cases is not None:
        ranker = load_settings().rca.ranker
        scored = score(rank_cases(cases[0], ranker_named(ranker)), json.loads(cases[1].read_text()))
        note = f"{ranker}, {scored.cases} cases of {cases[0].name}"
        result.add("RCA AC@1", scored.ac[0], "", ">= 0.8", note=note)
        result.add("RCA AC@3", scored.ac[2], "", note=note)
        result.add("RCA Avg@5", scored.avg5, "", ">= 0.95", note=note)
    latencies, live_right = alert_to_done()
    if latencies:
        ordered = sorted(latencies)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        note = f"{len(latencies)} of {ROUNDS} rounds; root cause first in {live_right}"
        result.add("fault-to-RCA-done latency p50", statistics.median(ordered), "s", note=note)
        result.add("fault-to-RCA-done latency p95", p95, "s", note=note)
        result.add("live root cause ranked first", live_right / len(latencies), "", note=note)
    else:
        result.add("fault-to-RCA-done latency p95", float("nan"), "s", note="no RCA finished")
    return result
