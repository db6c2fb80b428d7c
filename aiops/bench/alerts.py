"""Webhook-to-RCA-done: how soon after Alertmanager posts an alert its RCA is ready.

A scratch engine; each round a tenant whose 12 services sent two hours of per-minute
metrics, one of them faulty for the last minutes (stored before timing starts). Timed
from the POST to port 9093 until ``GET /api/v1/rca/{anomaly_id}`` answers ``done``.
"""

from __future__ import annotations

import statistics
import time

import httpx
import numpy as np

from aiops.bench.engine_process import bench_engine
from aiops.bench.rca import MINUTE, SERVICES, _series
from aiops.bench.report import BenchResult

ROUNDS = 20


def webhook_to_done() -> tuple[list[float], int]:
    latencies, right = [], 0
    with bench_engine() as engine, engine.client() as http, \
            httpx.Client(base_url=engine.webhook_url, timeout=60) as webhook:
        root = {"Authorization": f"Bearer {engine.token('root')}"}
        rng = np.random.default_rng(5)
        for round_ in range(ROUNDS):
            tenant = f"alerts-{round_}"
            http.post("/api/v1/tenants", json={"tenant_id": tenant, "name": tenant, "plan": "enterprise"},
                      headers=root).raise_for_status()
            headers = {"Authorization": f"Bearer {engine.token(tenant)}"}
            start = (int(time.time()) // MINUTE) * MINUTE - 130 * MINUTE
            faulty = int(rng.integers(3, len(SERVICES)))
            http.post("/api/v1/ingest/metrics", headers=headers,
                      json={"series": _series(120, start, None, 0, rng)}).raise_for_status()
            http.post("/api/v1/ingest/metrics", headers=headers,
                      json={"series": _series(10, start + 120 * MINUTE, faulty, 2, rng)}).raise_for_status()
            starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 122 * MINUTE))
            alert = {"status": "firing", "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
                     "labels": {"alertname": "HighLatency", "service_id": SERVICES[0], "tenant_id": tenant,
                                "severity": "critical"},
                     "annotations": {"summary": f"{SERVICES[0]} latency above its objective"}}
            began = time.perf_counter()
            answer = webhook.post("/api/v1/alerts/webhook", json={"version": "4", "status": "firing",
                                                                 "alerts": [alert]})
            answer.raise_for_status()
            anomaly_id = answer.json()["anomaly_id"]
            while time.perf_counter() - began < 60:
                body = http.get(f"/api/v1/rca/{anomaly_id}", headers=headers).json()
                if body["status"] != "pending":
                    latencies.append(time.perf_counter() - began)
                    right += bool(body["root_causes"]) and body["root_causes"][0]["service_id"] == SERVICES[faulty]
                    break
                time.sleep(0.02)
    return latencies, right


def run() -> BenchResult:
    result = BenchResult("alerts")
    latencies, right = webhook_to_done()
    note = f"{len(latencies)} of {ROUNDS} rounds; root cause first in {right}"
    if not latencies:
        result.add("webhook-to-RCA-done latency p95", float("nan"), "s", note="no RCA finished")
        return result
    ordered = sorted(latencies)
    result.add("webhook-to-RCA-done latency p50", statistics.median(ordered), "s", note=note)
    result.add("webhook-to-RCA-done latency p95", ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], "s",
               note=note)
    result.add("alert's root cause ranked first", right / len(latencies), "", note=note)
    return result
