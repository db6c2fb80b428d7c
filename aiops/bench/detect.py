"""Detection speed on one core, and how soon an ingested spike is listed.

1. The default detector's ``step`` over 10,000 series, and the whole per-tenant path
   (``TenantWatch.observe``: ordering, state, episodes) on batches of 10,000 series x 100
   points, in this process, single-threaded.
2. A scratch engine: two days of history for a series, then rounds of normal points and a
   spike; from the moment the spike's batch is posted until ``GET /api/v1/anomalies``
   lists it.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from aiops.bench.engine_process import bench_engine
from aiops.bench.report import BenchResult
from aiops.ingest.batch import PointBatch
from aiops.settings import load_settings
from aiops.watchdog import TenantWatch
from models.registry import build

SERIES = 10_000
ROUNDS = 20


def _pin_to_one_core() -> set[int]:
    """Pin this process to one core; returns the cores it had, to give back."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    return cores


def step_rate(model: str) -> float:
    detector = build("detector", model)
    state = detector.init_state(SERIES)
    rng = np.random.default_rng(0)
    active = np.ones(SERIES, dtype=bool)
    values = rng.normal(50, 5, (400, SERIES))
    for i in range(50):  # past warm-up
        detector.step(state, values[i], np.full(SERIES, i * 300.0), active)
    began = time.perf_counter()
    for i in range(50, 400):
        detector.step(state, values[i], np.full(SERIES, i * 300.0), active)
    return 350 * SERIES / (time.perf_counter() - began)


def observe_rate(model: str) -> float:
    watch = TenantWatch("bench", model)
    rng = np.random.default_rng(1)
    per = 100

    def batch(first: int) -> PointBatch:
        stamps = 1_775_000_000_000 + (first + np.arange(per)) * 300_000
        return PointBatch(
            service_ids=[f"svc-{i % 50}" for i in range(SERIES)], metric_names=["cpu"] * SERIES,
            labels=[{} for _ in range(SERIES)], series_ids=np.arange(1, SERIES + 1, dtype=np.uint64),
            series_index=np.repeat(np.arange(SERIES, dtype=np.int32), per),
            timestamps_ms=np.tile(stamps, SERIES).astype(np.int64), values=rng.normal(50, 5, SERIES * per),
        )

    watch.observe(batch(0))
    batches = [batch(per * (k + 1)) for k in range(3)]
    began = time.perf_counter()
    for b in batches:
        watch.observe(b)
    return 3 * SERIES * per / (time.perf_counter() - began)


def listed_latency() -> list[float]:
    latencies = []
    with bench_engine() as engine, engine.client() as http:
        http.post("/api/v1/tenants", json={"tenant_id": "bench", "name": "Bench", "plan": "enterprise"},
                  headers={"Authorization": f"Bearer {engine.token('root')}"}).raise_for_status()
        headers = {"Authorization": f"Bearer {engine.token('bench')}"}
        rng = np.random.default_rng(2)

        def normal(at: float) -> float:
            return float(50 + 10 * np.sin(2 * np.pi * at / 86400) + rng.normal())

        start = int(time.time()) - 2 * 86400 - 4 * 3600  # whole seconds: detected_at compares exactly
        history = [[start + 300 * i, normal(start + 300 * i)] for i in range(2 * 288)]
        for first in range(0, len(history), 288):
            http.post("/api/v1/ingest/metrics", headers=headers, json={"series": [
                {"service_id": "api", "metric_name": "cpu", "points": history[first:first + 288]}]}).raise_for_status()
        t = history[-1][0]
        for _ in range(ROUNDS):
            quiet = [[t + 60 * (k + 1), normal(t + 60 * (k + 1))] for k in range(5)]
            spike_at = t + 360
            http.post("/api/v1/ingest/metrics", headers=headers, json={"series": [
                {"service_id": "api", "metric_name": "cpu", "points": quiet}]}).raise_for_status()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(spike_at))
            began = time.perf_counter()
            http.post("/api/v1/ingest/metrics", headers=headers, json={"series": [
                {"service_id": "api", "metric_name": "cpu", "points": [[spike_at, 500.0]]}]}).raise_for_status()
            while time.perf_counter() - began < 30:
                found = http.get("/api/v1/anomalies", headers=headers, params={"limit": 5}).json()["anomalies"]
                if any(a["detected_at"] == stamp for a in found):
                    latencies.append(time.perf_counter() - began)
                    break
            t = spike_at
    return latencies


def run() -> BenchResult:
    result = BenchResult("detect")
    model = load_settings().watchdog.detector
    cores = _pin_to_one_core()
    try:
        result.add(f"{model} detector step, {SERIES} series, one core", step_rate(model), "points/s", ">= 1000000")
        result.add(f"{model} watchdog path (TenantWatch.observe), {SERIES} series, one core", observe_rate(model),
                   "points/s")
    finally:
        os.sched_setaffinity(0, cores)  # the engine below gets every core
    latencies = sorted(listed_latency())
    if latencies:
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        result.add("ingest-to-listed latency p50", statistics.median(latencies), "s")
        result.add("ingest-to-listed latency p95", p95, "s", "< 2", note=f"{len(latencies)} of {ROUNDS} spikes listed")
    else:
        result.add("ingest-to-listed latency p95", float("nan"), "s", "< 2", note="no spike was listed")
    return result
