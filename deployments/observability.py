"""The engine's own Prometheus metrics, exposed on ``GET /metrics``.

Each API process keeps its own registry (no import-time global): request counts and
latencies by route template and method (never by raw path or an arbitrary method name),
and the last observed state of each component. ``/metrics`` is open to whoever reaches
the port, so tenant ids appear as label values only with ``metrics.per_tenant``, and
then at most ``metrics.max_tenants`` of them (the busiest; the rest summed as
``_other``); otherwise per-tenant figures are totals labelled ``tenant="_all"`` (tenant
ids cannot contain ``_``). Every label therefore has a bounded set of values.
"""

from __future__ import annotations

import logging
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

from aiops import __version__
from aiops.logs import REQUEST_ID
from aiops.settings import MetricsSettings

log = logging.getLogger(__name__)


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ALL_TENANTS, OTHER_TENANTS = "_all", "_other"


def bounded_by_tenant(figures: dict[str, float], settings: MetricsSettings) -> dict[str, float]:
    """Per-tenant figures as label values: one total unless ``per_tenant``, then the busiest
    ``max_tenants`` and the rest summed.

    >>> bounded_by_tenant({"acme": 5, "globex": 3, "initech": 1}, MetricsSettings())
    {'_all': 9}
    >>> bounded_by_tenant({"acme": 5, "globex": 3, "initech": 1}, MetricsSettings(per_tenant=True, max_tenants=2))
    {'acme': 5, 'globex': 3, '_other': 1}
    """
    if not settings.per_tenant:
        return {ALL_TENANTS: sum(figures.values())} if figures else {}
    ranked = sorted(figures.items(), key=lambda item: (-item[1], item[0]))
    shown = dict(ranked[:settings.max_tenants])
    if len(ranked) > settings.max_tenants:
        shown[OTHER_TENANTS] = sum(value for _, value in ranked[settings.max_tenants:])
    return shown


class EngineMetrics:
    def __init__(self, settings: MetricsSettings | None = None) -> None:
        self._settings = settings or MetricsSettings()
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
            "aiops_ingest_skipped_samples_total",
            "remote_write samples not stored, by reason (non_finite, out_of_range, native_histogram, exemplar).",
            ["reason"], registry=self.registry,
        )
        self.otlp_items = Counter(
            "aiops_otlp_items_total", "OTLP spans, log records and data points, by signal and outcome "
            "(accepted: durable; rejected: refused one by one, reported in partial_success).",
            ["signal", "outcome"], registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "aiops_ingest_batch_seconds", "Time to store and deliver one batch, by format.", ["format"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        # Republished from the actors' status at each scrape (the Ray dashboard has the same).
        gauge = lambda name, text, labels: Gauge(name, text, labels, registry=self.registry)  # noqa: E731
        self.watchdog_points = gauge("aiops_watchdog_points", "Points scored by the watchdog (tenant=\"_all\" "
                                     "unless metrics.per_tenant).", ["tenant"])
        self.watchdog_series = gauge("aiops_watchdog_series", "Series under detection (tenant=\"_all\" unless "
                                     "metrics.per_tenant).", ["tenant"])
        self.watchdog_queue = gauge("aiops_watchdog_queue_depth", "Batches waiting for or in detection.", ["shard"])
        self.detection_p95 = gauge("aiops_detection_p95_seconds", "Recent p95 time to score a batch.", ["shard"])
        self.rca_done = gauge("aiops_rca_completed", "Analyses done since the worker started.", ["worker"])
        self.rca_failed = gauge("aiops_rca_failed", "Analyses failed since the worker started.", ["worker"])
        self.rca_queue = gauge("aiops_rca_queue_depth", "Queued analyses the worker should take.", ["worker"])
        self.rca_p95 = gauge("aiops_rca_p95_seconds", "Recent p95 time of one analysis.", ["worker"])
        self.embedded = gauge("aiops_embedded_texts", "Texts embedded since the vectorizer started.", ["vectorizer"])
        info = Gauge("aiops_build_info", "Engine version.", ["version"], registry=self.registry)
        info.labels(__version__).set(1)

    def observe_actors(self, shards: list[dict], workers: list[dict], vectorizers: list[dict]) -> None:
        """Copy the actors' latest figures (their ``status`` answers) into this registry."""
        points: dict[str, float] = {}
        series: dict[str, float] = {}
        for answer in shards:
            for tenant, value in answer.get("points_by_tenant", {}).items():
                points[tenant] = points.get(tenant, 0) + value
            for tenant, value in answer.get("series_by_tenant", {}).items():
                series[tenant] = series.get(tenant, 0) + value
        for gauge, figures in ((self.watchdog_points, points), (self.watchdog_series, series)):
            gauge.clear()  # tenants gone (or no longer among the busiest) leave no stale series
            for tenant, value in bounded_by_tenant(figures, self._settings).items():
                gauge.labels(tenant).set(value)
        for answer in shards:
            shard = str(answer.get("shard"))
            self.watchdog_queue.labels(shard).set(answer.get("queue_depth", 0))
            if answer.get("detection_p95_seconds") is not None:
                self.detection_p95.labels(shard).set(answer["detection_p95_seconds"])
        for answer in workers:
            worker = str(answer.get("worker"))
            self.rca_done.labels(worker).set(answer.get("completed", 0))
            self.rca_failed.labels(worker).set(answer.get("failed", 0))
            self.rca_queue.labels(worker).set(answer.get("queue_depth", 0))
            if answer.get("duration_p95_seconds") is not None:
                self.rca_p95.labels(worker).set(answer["duration_p95_seconds"])
        for answer in vectorizers:
            self.embedded.labels(str(answer.get("vectorizer"))).set(answer.get("texts", 0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def request_id_of(request: Request) -> str:
    """The id Serve's proxy gave this request (the caller's ``X-Request-ID`` when it sent one;
    the proxy echoes it in the answer), or a new one outside Serve."""
    try:
        from ray.serve.context import _get_serve_request_context

        given = _get_serve_request_context().request_id
    except Exception:  # not inside a Serve replica (a unit test's app)
        given = ""
    return given or request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex


class MetricsMiddleware(BaseHTTPMiddleware):
    """Counts every answer, including errors, by the route that matched; tags the request's
    log lines with its request id (the one Serve answers in ``X-Request-ID``)."""

    def __init__(self, app, metrics: EngineMetrics) -> None:
        super().__init__(app)
        self._metrics = metrics

    async def dispatch(self, request: Request, call_next):
        started = time.perf_counter()
        status = 500
        request_id = request_id_of(request)
        REQUEST_ID.set(request_id)
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", "<unmatched>")
            method = request.method if request.method in HTTP_METHODS else "other"
            self._metrics.requests.labels(method, template, str(status)).inc()
            elapsed = time.perf_counter() - started
            self._metrics.latency.labels(template).observe(elapsed)
            log.log(logging.ERROR if status >= 500 else logging.DEBUG, "%s %s -> %d in %.1f ms", request.method,
                    template, status, 1000 * elapsed)
