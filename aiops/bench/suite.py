"""The benchmark registry: name -> runner, imported only when chosen."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from aiops.bench.report import BenchResult

BENCHES: dict[str, tuple[str, str]] = {
    "startup": ("aiops.bench.startup", "start-to-ready and stop of the whole engine"),
    "footprint": ("aiops.bench.footprint", "idle RSS, processes with torch, idle CPU, app import, start to ready"),
    "auth": ("aiops.bench.auth", "JWT and API-key checks per request, rate-limiter decisions"),
    "ingest": ("aiops.bench.ingest", "JSON and remote_write ingestion over HTTP vs the raw chDB ceiling"),
    "otlp": ("aiops.bench.otlp", "OTLP/HTTP spans and log records/s (4 clients) vs the tables' insert ceilings"),
    "detect": ("aiops.bench.detect", "detector points/s on one core (10,000 series), ingest-to-listed latency"),
    "rca": ("aiops.bench.rca", "correlation graph for 200 and 2,000 services, sock-shop scores, fault-to-RCA latency"),
    "vectorizer": ("aiops.bench.vectorizer", "embedding texts/s at batch 1 and 64, micro-batched, CPU (and CUDA)"),
    "alerts": ("aiops.bench.alerts", "Alertmanager webhook-to-RCA-done latency"),
    "incidents": ("aiops.bench.incidents", "signals into incidents (50 services, 20 faults): noise cut, purity, "
                                           "root cause, signal-to-notification latency (live)"),
    "soak": ("aiops.bench.soak", "mixed traffic at half the ingest maximum for --minutes; RSS must settle"),
}


def runner(name: str) -> Callable[..., BenchResult]:
    module, _ = BENCHES[name]
    return importlib.import_module(module).run
