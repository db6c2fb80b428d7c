"""The engine's own Prometheus metrics, exposed on ``GET /metrics``.

Each API process keeps its own registry (no import-time global): request counts and
latencies by route template (never by raw path, to keep cardinality bounded) and the
last observed state of each component.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

from aiops import __version__


class EngineMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "aiops_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aiops_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.component_up = Gauge(
            "aiops_component_up",
            "1 when the component answered healthy at the last status check.",
            ["component"],
            registry=self.registry,
        )
        self.ingest_points = Counter(
            "aiops_ingest_points_total", "Metric points accepted (durable), by format.", ["format"],
            registry=self.registry,
        )
        self.ingest_refused = Counter(
            "aiops_ingest_refused_batches_total", "Ingestion batches refused, by format and reason.",
            ["format", "reason"], registry=self.registry,
        )
        self.ingest_skipped = Counter(
            "aiops_ingest_skipped_samples_total", "remote_write samples skipped (staleness markers, NaN).",
            ["reason"], registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "aiops_ingest_batch_seconds", "Time to store and deliver one batch, by format.", ["format"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        info = Gauge("aiops_build_info", "Engine version.", ["version"], registry=self.registry)
        info.labels(__version__).set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware(BaseHTTPMiddleware):
    """Counts every answer, including errors, by the route that matched."""

    def __init__(self, app, metrics: EngineMetrics) -> None:
        super().__init__(app)
        self._metrics = metrics

    async def dispatch(self, request: Request, call_next):
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", "<unmatched>")
            self._metrics.requests.labels(request.method, template, str(status)).inc()
            self._metrics.latency.labels(template).observe(time.perf_counter() - started)
