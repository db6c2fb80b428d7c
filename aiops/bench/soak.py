"""Soak: mixed traffic for ``--minutes`` at half the measured ingest maximum; does memory settle?

A scratch engine. First 10 s of JSON ingestion flat out (4 clients) measure the maximum;
then, for the soak, four ingest clients pace themselves to half of it (ordinary noisy metrics
of 20,000 series, a planted spike about every 10 s) while a query client
reads anomalies, series and status, and an alert client posts an Alertmanager alert every
10 s (each starting an RCA). Every 30 s a window closes: points/s, p99 latency per kind of
request, and the RSS of every engine process. RSS must settle: after the warm-up (the first
fifth of the run, at least a minute) it may grow by less than 10 %.
"""

from __future__ import annotations

import os
import statistics
import threading
import time

import httpx
import numpy as np
import orjson

from aiops.bench.engine_process import bench_engine
from aiops.bench.ingest import CLIENTS, POINTS_PER_SERIES, SERIES_PER_BATCH, drive, json_bodies
from aiops.bench.report import BenchResult

WINDOW = 30.0
GROUPS = 50  # series groups the ingest clients rotate over, so timestamps advance slowly


def minutes() -> float:
    return float(os.environ.get("AIOPS_BENCH_SOAK_MINUTES", "10"))


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.points = 0
        self.errors: dict[int, int] = {}

    def add(self, kind: str, seconds: float, status: int, points: int = 0) -> None:
        with self._lock:
            self.latencies.setdefault(kind, []).append(seconds * 1000)
            self.points += points
            if status >= 400:
                self.errors[status] = self.errors.get(status, 0) + 1

    def take(self) -> tuple[dict[str, list[float]], int]:
        with self._lock:
            taken, self.latencies = self.latencies, {}
            points, self.points = self.points, 0
        return taken, points


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def body(client: int, sequence: int, start: float, per_client: float) -> bytes:
    """One batch of ordinary metrics: each series noisy around its own level with a daily wave.

    About every 10 s (client 0) one series gets a spike, so the watchdog finds an anomaly
    and starts an RCA about as often as the alert client does.
    """
    group = (client * 7919 + sequence) % GROUPS
    base = start + (sequence // GROUPS) * POINTS_PER_SERIES
    rng = np.random.default_rng([client, sequence])
    at = base + np.arange(POINTS_PER_SERIES, dtype=np.float64)
    level = 20.0 + (np.arange(SERIES_PER_BATCH) % 17) * 5.0
    values = (level[:, None] * (1 + 0.2 * np.sin(2 * np.pi * at / 86400))[None, :]
              + rng.normal(0.0, 1.0, (SERIES_PER_BATCH, POINTS_PER_SERIES)))
    if client == 0 and sequence % max(1, round(10 * per_client)) == 0:
        values[sequence % SERIES_PER_BATCH, POINTS_PER_SERIES // 2] += 40.0
    return orjson.dumps({"series": [
        {"service_id": f"svc-{s % 20}", "metric_name": "cpu", "labels": {"pod": f"g{group}-c{client}-{s}"},
         "points": np.column_stack((at, values[s]))}
        for s in range(SERIES_PER_BATCH)]}, option=orjson.OPT_SERIALIZE_NUMPY)


def run() -> BenchResult:
    result = BenchResult("soak")
    total = minutes() * 60
    warmup = max(60.0, total / 5)
    with bench_engine() as engine:
        root = {"Authorization": f"Bearer {engine.token('root')}"}
        with engine.client() as http:
            http.post("/api/v1/tenants", json={"tenant_id": "soak", "name": "Soak", "plan": "enterprise"},
                      headers=root).raise_for_status()
        tenant = {"Authorization": f"Bearer {engine.token('soak')}"}
        start = time.time() - 6 * 86400
        maximum, _, _, _ = drive(engine, "/api/v1/ingest/metrics", json_bodies(200, start - 86400),
                                 {**tenant, "Content-Type": "application/json"})
        target = maximum / 2
        result.add("measured JSON ingest maximum", maximum, "points/s")
        record, stop = Recorder(), threading.Event()
        per_client = target / CLIENTS / (SERIES_PER_BATCH * POINTS_PER_SERIES)  # bodies per second

        def ingest(client: int) -> None:
            with engine.client(headers={**tenant, "Content-Type": "application/json"}) as c:
                sequence, due = 0, time.perf_counter()
                while not stop.is_set():
                    payload = body(client, sequence, start, per_client)
                    began = time.perf_counter()
                    answer = c.post("/api/v1/ingest/metrics", content=payload)
                    accepted = answer.json().get("accepted", 0) if answer.status_code == 200 else 0
                    record.add("ingest", time.perf_counter() - began, answer.status_code, accepted)
                    sequence += 1
                    due += 1 / per_client
                    stop.wait(max(0.0, due - time.perf_counter()))

        def query() -> None:
            paths: list[tuple[str, dict[str, str | float]]] = [
                ("/api/v1/anomalies", {"limit": 20}),
                ("/api/v1/series", {"service_id": "svc-3", "since": start, "until": start + 3600, "step": 60}),
                ("/api/v1/status", {})]
            with engine.client(headers=tenant) as c:
                n = 0
                while not stop.wait(0.2):
                    path, params = paths[n % len(paths)]
                    began = time.perf_counter()
                    answer = c.get(path, params=params)
                    record.add("query", time.perf_counter() - began, answer.status_code)
                    n += 1

        def alert() -> None:
            with httpx.Client(base_url=engine.webhook_url, timeout=60) as c:
                n = 0
                while not stop.wait(10.0):
                    starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 600 + 60 * n))
                    payload = {"alerts": [{"status": "firing", "startsAt": starts, "annotations": {"summary": "soak"},
                                           "labels": {"alertname": "Soak", "service_id": "svc-1",
                                                      "tenant_id": "soak"}}]}
                    began = time.perf_counter()
                    answer = c.post("/api/v1/alerts/webhook", json=payload)
                    record.add("alert", time.perf_counter() - began, answer.status_code)
                    n += 1

        threads = [threading.Thread(target=ingest, args=(i,), daemon=True) for i in range(CLIENTS)]
        threads += [threading.Thread(target=query, daemon=True), threading.Thread(target=alert, daemon=True)]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        cpu_before = engine.cpu_seconds()
        windows: list[dict] = []
        everything: dict[str, list[float]] = {}
        while time.perf_counter() - began < total:
            time.sleep(min(WINDOW, max(0.0, total - (time.perf_counter() - began))))
            latencies, points = record.take()
            for kind, values in latencies.items():
                everything.setdefault(kind, []).extend(values)
            windows.append({"at": time.perf_counter() - began, "points_per_s": points / WINDOW,
                            "rss": engine.rss_bytes(), **{f"p99_{k}": p99(v) for k, v in latencies.items()}})
        cpu = {name: used - cpu_before.get(name, 0.0) for name, used in engine.cpu_seconds().items()}
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        with engine.client(headers=tenant) as c:  # how much detection and RCA work the soak caused
            anomalies = c.get("/api/v1/anomalies", params={"limit": 1}).json().get("total", 0)
    settled = [w for w in windows if w["at"] > warmup] or windows[-1:]
    first, last = settled[0]["rss"], windows[-1]["rss"]
    sustained = statistics.mean(w["points_per_s"] for w in windows)
    result.add("soak ingest rate (mean over windows)", sustained, "points/s",
               note=f"target {target:,.0f} (half the maximum) for {total / 60:g} min; per 30 s window: "
                    + ", ".join(f"{w['points_per_s'] / 1000:.0f}k" for w in windows))
    # Clients are paced to the target and catch up after a slow answer, so they never exceed it:
    # the engine kept up when the mean comes within 5 % (the first window includes the ramp-up).
    result.add("soak ingest rate / target", 100 * sustained / target, "%", ">= 95")
    for kind in ("ingest", "query", "alert"):
        result.add(f"soak {kind} latency p99", p99(everything.get(kind, [])), "ms",
                   note=f"{len(everything.get(kind, []))} requests")
    result.add("soak RSS after warm-up", first / 2**20, "MiB", note=f"warm-up {warmup:.0f} s")
    result.add("soak RSS at the end", last / 2**20, "MiB")
    result.add("soak RSS growth after warm-up", 100 * (last - first) / first, "%", "< 10",
               note="per 30 s window: " + ", ".join(f"{w['rss'] / 2**20:.0f}" for w in windows))
    result.add("soak anomalies stored", anomalies, "", note="watchdog episodes and alerts; alerts and episodes "
               "above watchdog.rca_threshold each start an RCA")
    busiest = sorted(cpu.items(), key=lambda item: -item[1])
    cores = os.cpu_count() or 1
    result.add(f"soak engine CPU (share of {cores} cores)", 100 * sum(cpu.values()) / (cores * total), "%",
               note="; ".join(f"{name} {seconds:.0f} s" for name, seconds in busiest[:8]))
    result.add("soak error answers", sum(record.errors.values()), "", note=str(record.errors or "none"))
    return result
