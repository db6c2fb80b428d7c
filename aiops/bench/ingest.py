"""Ingestion throughput over real HTTP, next to the raw storage ceiling measured in the same run.

A scratch engine (``aiops up --detach``) gets a tenant on the ``enterprise`` plan and an
ingestion key; ``CLIENTS`` threads then post pre-encoded batches (each with its own
timestamps, so none is a deduplicated retry) to the JSON and the remote_write endpoint for
``SECONDS`` each. The ceiling is ``insert_arrow`` of the same rows straight into chDB.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from aiops.bench.engine_process import bench_engine
from aiops.bench.report import BenchResult
from aiops.ingest.builder import BatchBuilder
from aiops.ingest.json_format import decode_json_batch
from aiops.ingest.remote_write import encode_write_request

CLIENTS = 4
SECONDS = 10.0
SERIES_PER_BATCH = 100
POINTS_PER_SERIES = 200


def json_bodies(count: int, start: float) -> list[bytes]:
    bodies = []
    for b in range(count):
        base = start + b * POINTS_PER_SERIES
        bodies.append(orjson.dumps({"series": [
            {"service_id": f"svc-{s % 20}", "metric_name": "cpu", "labels": {"pod": f"pod-{s}"},
             "points": [[base + i, float((s * i) % 97)] for i in range(POINTS_PER_SERIES)]}
            for s in range(SERIES_PER_BATCH)]}))
    return bodies


def remote_write_bodies(count: int, start_ms: int) -> list[bytes]:
    bodies = []
    for b in range(count):
        base = start_ms + b * POINTS_PER_SERIES * 1000
        bodies.append(encode_write_request([
            ({"__name__": "requests_total", "job": f"job-{s % 20}", "instance": f"pod-{s}"},
             [(base + i * 1000, float((s * i) % 97)) for i in range(POINTS_PER_SERIES)])
            for s in range(SERIES_PER_BATCH)]))
    return bodies


def ingestion_key(engine) -> str:
    """A tenant ``bench`` on the enterprise plan and an ingestion key of it (rate limit 100,000/s)."""
    with engine.client() as http:
        admin = {"Authorization": f"Bearer {engine.token('root')}"}
        http.post("/api/v1/tenants", json={"tenant_id": "bench", "name": "Bench", "plan": "enterprise"},
                  headers=admin).raise_for_status()
        created = http.post("/api/v1/apikeys", json={"name": "bench", "scope": "ingestion", "rate_limit_rps": 100000},
                            headers={"Authorization": f"Bearer {engine.token('bench')}"})
        created.raise_for_status()
        return created.json()["api_key"]


def accepted_points(response) -> int:
    """Points an ingest answer (200) says it took."""
    return response.json()["accepted"]


def drive(engine, path: str, bodies: list[bytes], headers: dict[str, str],
          accepted: Callable[[httpx.Response], int] = accepted_points) -> tuple[float, list[float], int, int]:
    """Post ``bodies`` from CLIENTS threads for SECONDS; returns (items/s ``accepted`` read from each
    200 answer, latencies ms of the 200s, requests answered otherwise, the engine's peak RSS)."""
    cursor = iter(range(len(bodies)))
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    sent = [0]
    deadline = time.perf_counter() + SECONDS

    def client() -> None:
        with engine.client(headers=headers) as http:
            while time.perf_counter() < deadline:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                began = time.perf_counter()
                response = http.post(path, content=bodies[index])
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    if response.status_code == 200:
                        latencies.append(elapsed)
                        sent[0] += accepted(response)
                    else:
                        errors[0] += 1

    peak = [engine.rss_bytes()]
    sampling = threading.Event()

    def sample_rss() -> None:
        while not sampling.wait(0.5):
            peak[0] = max(peak[0], engine.rss_bytes())

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    sampling.set()
    sampler.join()
    return sent[0] / elapsed, latencies, errors[0], peak[0]


def raw_ceiling(body: bytes) -> float:
    """Rows per second of ``insert_arrow`` straight into a fresh chDB (no HTTP, no Ray)."""
    from aiops.settings import load_settings
    from aiops.storage.store import Store

    with tempfile.TemporaryDirectory(prefix="aiops-ceiling-") as scratch:
        store = Store(load_settings(data_dir=Path(scratch)))
        store.migrate()
        batch = decode_json_batch(body, BatchBuilder(now_ms=int(time.time() * 1000), max_past_seconds=30 * 86400,
                                                     max_future_seconds=86400))
        table = batch.points_table("ceiling")
        rows, began = 0, time.perf_counter()
        with store._pool.borrow() as client:  # noqa: SLF001 - the ceiling is the client itself
            while time.perf_counter() - began < 3.0:
                client.insert_arrow("metric_points", table)
                rows += table.num_rows
        rate = rows / (time.perf_counter() - began)
        store.close()
    return rate


def run() -> BenchResult:
    result = BenchResult("ingest")
    needed = int(SECONDS * 1_500_000 / (SERIES_PER_BATCH * POINTS_PER_SERIES)) + CLIENTS
    start = time.time() - 6 * 86400  # well inside the accepted window, every batch its own hour
    json_payloads = json_bodies(needed, start)
    remote_payloads = remote_write_bodies(needed, int((start + needed * POINTS_PER_SERIES + 10) * 1000))
    result.add("raw ceiling: insert_arrow into chDB", raw_ceiling(json_payloads[0]), "points/s",
               note=f"{SERIES_PER_BATCH * POINTS_PER_SERIES}-row Arrow tables, one client, no HTTP")
    with bench_engine() as engine:
        key = ingestion_key(engine)
        cases = (
            ("JSON", "/api/v1/ingest/metrics", json_payloads, {"Content-Type": "application/json"}, 250_000),
            ("remote_write", "/api/v1/ingest/prometheus", remote_payloads,
             {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}, 400_000),
        )
        for label, path, bodies, headers, target in cases:
            rate, latencies, errors, peak = drive(engine, path, bodies, {**headers, "X-API-Key": key})
            result.add(f"{label} points/s ({CLIENTS} clients)", rate, "points/s", f">= {target}",
                       note=f"{SERIES_PER_BATCH * POINTS_PER_SERIES} points per request; {errors} non-200 answers")
            ordered = sorted(latencies) or [float("nan")]
            result.add(f"{label} request latency p50", statistics.median(ordered), "ms")
            result.add(f"{label} request latency p99", ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], "ms")
            result.add(f"{label} peak RSS of the engine", peak / 2**20, "MiB")
    return result
