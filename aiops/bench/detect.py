"""Detection speed on one core, quiet on clean data, and how soon an ingested spike is listed.

1. The default detector's ``step`` over 10,000 series, and the whole per-tenant path
   (``TenantWatch.observe``: ordering, state, episodes) on batches of 10,000 series x 100
   points, in this process, single-threaded; its state's bytes per series.
2. 200 anomaly-free synthetic series (:func:`clean_series`: daily and weekly profiles,
   drift, AR(1) noise; four weeks at one-minute steps) through ``TenantWatch``, a day per
   batch: the false alarm episodes a user would see, per series-month, at the default's
   own threshold.
3. A scratch engine: two days of history for a series, then rounds of normal points and a
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
CLEAN_SERIES = 200
CLEAN_DAYS = 28
DAY = 86400
MONTH_DAYS = 30.44  # a mean calendar month


def clean_series(count: int = CLEAN_SERIES, days: int = CLEAN_DAYS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` anomaly-free metrics at one-minute steps: ``(values, unix seconds)``, each ``(steps, count)``.

    Each series is a level (10 to 1,000) with a daily profile (a peak of 10-50 % of the level
    at a random hour, plus a second harmonic), a weekly one (0-20 % of the level, peaking on
    a random day), a slow linear drift of up to ±20 % over the span, and AR(1) noise
    (coefficient 0-0.8) of 1-10 % of the level: what a healthy service's CPU, latency or
    request rate looks like.
    """
    rng = np.random.default_rng(seed)
    steps = days * DAY // 60
    stamps = 1_767_225_600 + 60.0 * np.arange(steps)  # 2026-01-01, a Thursday
    day = 2 * np.pi * (stamps % DAY) / DAY
    week = 2 * np.pi * (stamps % (7 * DAY)) / (7 * DAY)
    level = rng.uniform(10, 1000, count)
    phase = rng.uniform(0, 2 * np.pi, count)
    profile = (rng.uniform(0.1, 0.5, count) * np.cos(day[:, None] - phase)
               + rng.uniform(0.0, 0.15, count) * np.cos(2 * (day[:, None] - phase)))
    weekly = rng.uniform(0.0, 0.2, count) * np.cos(week[:, None] - rng.uniform(0, 2 * np.pi, count))
    drift = rng.uniform(-0.2, 0.2, count) * np.linspace(0, 1, steps)[:, None]
    phi = rng.uniform(0.0, 0.8, count)
    shocks = rng.normal(0, 1, (steps, count)) * rng.uniform(0.01, 0.1, count) * np.sqrt(1 - phi ** 2)
    noise = np.empty((steps, count))
    noise[0] = shocks[0] / np.sqrt(1 - phi ** 2)
    for t in range(1, steps):
        noise[t] = phi * noise[t - 1] + shocks[t]
    values = level * (1 + profile + weekly + drift + noise)
    return values, np.repeat(stamps[:, None], count, axis=1)


def clean_episode_rates(values: np.ndarray, stamps: np.ndarray, close_after: int = 3) -> dict[str, float]:
    """Every registered detector's false episodes per series-month at its own threshold (one ``run``)."""
    from aiops.evaluation.selection import clean_episodes_per_month
    from models.registry import entries

    rates = {}
    for entry in entries("detector"):
        detector = build("detector", entry.name)
        scores = detector.run(detector.init_state(values.shape[1]), values, stamps, np.ones(values.shape, bool))
        rates[entry.name] = clean_episodes_per_month(scores.score, detector.config.threshold,
                                                     values.shape[0] * 60 / DAY, close_after)
    return rates


def false_episodes(model: str, values: np.ndarray, stamps: np.ndarray, close_after: int = 3) -> tuple[int, int]:
    """(episodes, points) the watchdog would open on these anomaly-free series, after the model's warm-up."""
    watch = TenantWatch("clean", model, close_after=close_after)
    steps, count = values.shape
    per = 1440  # a day of points per batch, as a collector would catch up
    opened: set[str] = set()
    for first in range(0, steps, per):
        last = min(steps, first + per)
        batch = PointBatch(
            service_ids=[f"svc-{i}" for i in range(count)], metric_names=["metric"] * count,
            labels=[{} for _ in range(count)], series_ids=np.arange(1, count + 1, dtype=np.uint64),
            series_index=np.repeat(np.arange(count, dtype=np.int32), last - first),
            timestamps_ms=(stamps[first:last].T.reshape(-1) * 1000).astype(np.int64),
            values=values[first:last].T.reshape(-1))
        opened.update(a.anomaly_id for a in watch.observe(batch).anomalies)
    return len(opened), steps * count


def _pin_to_one_core() -> set[int]:
    """Pin this process to one core; returns the cores it had, to give back."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    return cores


def bytes_per_series(model: str) -> float:
    state = build("detector", model).init_state(1000)
    return sum(array.nbytes for array in state.values()) / 1000


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
    """Seconds from posting a spike to seeing it listed, one fresh series per round.

    Each round spikes its own series (``cpu-<round>``) after three days of history: the
    default alarms from 600 points and a day on, and rests 50 points after an alarm, so
    spikes on one series a few points apart would measure the rest, not the latency.
    """
    latencies = []
    with bench_engine() as engine, engine.client() as http:
        http.post("/api/v1/tenants", json={"tenant_id": "bench", "name": "Bench", "plan": "enterprise"},
                  headers={"Authorization": f"Bearer {engine.token('root')}"}).raise_for_status()
        headers = {"Authorization": f"Bearer {engine.token('bench')}"}
        rng = np.random.default_rng(2)

        def normal(at: float) -> float:
            return float(50 + 10 * np.sin(2 * np.pi * at / 86400) + rng.normal())

        days = 3
        start = int(time.time()) - days * 86400 - 4 * 3600  # whole seconds: detected_at compares exactly
        stamps = [start + 300 * i for i in range(days * 288)]
        for first in range(0, len(stamps), 288):
            http.post("/api/v1/ingest/metrics", headers=headers, json={"series": [
                {"service_id": "api", "metric_name": f"cpu-{k}",
                 "points": [[at, normal(at)] for at in stamps[first:first + 288]]} for k in range(ROUNDS)]
            }).raise_for_status()
        t = stamps[-1]
        for k in range(ROUNDS):
            metric = f"cpu-{k}"
            quiet = [[t + 60 * (j + 1), normal(t + 60 * (j + 1))] for j in range(5)]
            spike_at = t + 360
            http.post("/api/v1/ingest/metrics", headers=headers, json={"series": [
                {"service_id": "api", "metric_name": metric, "points": quiet}]}).raise_for_status()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(spike_at))
            began = time.perf_counter()
            http.post("/api/v1/ingest/metrics", headers=headers, json={"series": [
                {"service_id": "api", "metric_name": metric, "points": [[spike_at, 500.0]]}]}).raise_for_status()
            while time.perf_counter() - began < 30:
                found = http.get("/api/v1/anomalies", headers=headers, params={"limit": 5}).json()["anomalies"]
                if any(a["detected_at"] == stamp and a["metric_name"] == metric for a in found):
                    latencies.append(time.perf_counter() - began)
                    break
            t = spike_at
    return latencies


def run() -> BenchResult:
    result = BenchResult("detect")
    model = load_settings().watchdog.detector
    cores = _pin_to_one_core()
    try:
        result.add(f"{model} detector step, {SERIES} series, one core", step_rate(model), "points/s", ">= 300000")
        result.add(f"{model} watchdog path (TenantWatch.observe), {SERIES} series, one core", observe_rate(model),
                   "points/s")
        result.add(f"{model} detection state per series", bytes_per_series(model), "bytes")
        values, stamps = clean_series()
        episodes, _ = false_episodes(model, values, stamps, load_settings().watchdog.close_after)
        months = values.shape[1] * CLEAN_DAYS / MONTH_DAYS
        result.add(f"{model} false episodes on {CLEAN_SERIES} clean series ({CLEAN_DAYS} days, one-minute points)",
                   episodes / months, "per series-month", "<= 0.5", note=f"{episodes} episodes in all")
        for name, rate in clean_episode_rates(values, stamps).items():
            result.add(f"{name} false episodes on the clean series, at its own threshold", rate, "per series-month")
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
