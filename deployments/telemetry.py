"""The OTLP intake of an API replica: body, decoding, quota, one durable write.

Bounded before any work: the caller is authenticated (the route class, before the body is
read); the body is refused with 413 as soon as its declared or streamed size passes
``otlp.max_body_bytes``, before anything is decompressed; a body is inflated (gzip, through
the shared :func:`aiops.ingest.decompress.decompress`, always off the event loop) to at
most ``otlp.max_decompressed_bytes``, and a JSON one to at most ``otlp.max_json_bytes``;
the items of a request (spans, log records, data points) are counted against
``otlp.max_items_per_request`` and twice the plan's ``points_per_second`` before any
per-item work (:class:`~aiops.ingest.otlp.common.OtlpLimits`); bodies larger than
``otlp.decode_in_thread_bytes`` are decoded on a worker thread, so the event loop keeps
answering other requests. Spans and log records are the tenant's events: they are
charged to its plan's ``points_per_second`` (429 with ``Retry-After``), counted once in
its usage, and answered 2xx only once durable. Metric data points go through the metric
ingestion pipeline (:class:`~deployments.ingestion.IngestPipeline`) as any points, under
the same batch limits (:class:`~aiops.ingest.builder.BatchLimits`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

from aiops.errors import PayloadTooLarge, Unavailable, UnsupportedMediaType
from aiops.ingest.builder import BatchLimits
from aiops.ingest.decompress import decompress
from aiops.ingest.otlp.common import OtlpLimits
from aiops.settings import PlanSettings, Settings
from aiops.storage.gateway import StoreGateway
from aiops.storage.telemetry_records import TelemetryOutcome
from deployments.access import TenantDirectory
from deployments.bodies import read_body
from deployments.limits import LeasedLimiter
from deployments.observability import EngineMetrics

T = TypeVar("T")


def content_encoding(request: Request) -> str:
    """``gzip`` or ``identity``; 415 for any other ``Content-Encoding`` (checked before the body is read)."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in ("gzip", "identity"):
        raise UnsupportedMediaType(f"Content-Encoding must be gzip or identity, not {encoding}")
    return encoding


def batch_digest(signal: str, tenant_id: str, body: bytes) -> str:
    """A request's identity: the same body sent again (a retry) has the same digest."""
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(f"otlp-{signal}\x00{tenant_id}\x00".encode())
    hasher.update(body)
    return hasher.hexdigest()


class TelemetryIntake:
    def __init__(self, settings: Settings, store: StoreGateway, tenants: TenantDirectory, limiter: LeasedLimiter,
                 metrics: EngineMetrics) -> None:
        self._settings = settings
        self._store = store
        self._tenants = tenants
        self._limiter = limiter
        self._metrics = metrics
        self._in_flight = 0
        self._max_in_flight = settings.ingest.max_batches_in_flight

    def limit_in_flight(self, batches: int) -> None:
        self._max_in_flight = batches

    async def _plan(self, tenant_id: str) -> PlanSettings:
        plan = await self._tenants.plan_of(tenant_id)
        if plan is None:  # authentication already checked; the tenant vanished since
            raise Unavailable("tenant is being changed, retry shortly")
        return plan

    async def limits(self, tenant_id: str) -> OtlpLimits:
        """Bounds of one request of ``tenant_id``: at most ``otlp.max_items_per_request`` items,
        and never more than its plan's burst (twice its ``points_per_second``)."""
        otlp, ingest = self._settings.otlp, self._settings.ingest
        plan = await self._plan(tenant_id)
        return OtlpLimits.around(time.time_ns(), ingest.max_past_seconds, ingest.max_future_seconds,
                                 max_attributes=otlp.max_attributes,
                                 max_attribute_key_chars=otlp.max_attribute_key_chars,
                                 max_attribute_value_chars=otlp.max_attribute_value_chars,
                                 max_log_body_chars=otlp.max_log_body_chars,
                                 max_items=min(otlp.max_items_per_request, int(2 * plan.points_per_second)))

    async def batch_limits(self, tenant_id: str) -> BatchLimits:
        """What the points OTLP metrics become may hold, as for any metric batch (the plan's burst too)."""
        plan = await self._plan(tenant_id)
        return BatchLimits.of(self._settings.ingest, max_points=int(2 * plan.points_per_second))

    async def off_loop(self, size: int, work: Callable[[], T]) -> T:
        """``work()`` here for small bodies, on a worker thread for large ones."""
        if size > self._settings.otlp.decode_in_thread_bytes:
            return await asyncio.to_thread(work)
        return work()

    async def read(self, request: Request, json: bool) -> bytes:
        """The request body, decompressed, within the size limits (413 otherwise; see the module doc)."""
        compression = content_encoding(request)
        otlp = self._settings.otlp
        limit = min(otlp.max_decompressed_bytes, otlp.max_json_bytes) if json else otlp.max_decompressed_bytes
        body = await read_body(request, otlp.max_body_bytes)
        if compression == "gzip":  # inflating even a small body may take a while: never on the event loop
            return await asyncio.to_thread(decompress, body, compression, limit=limit)
        return decompress(body, compression, limit=limit)  # identity: only the size is checked

    async def _charge(self, tenant_id: str, items: int) -> None:
        plan = await self._plan(tenant_id)
        burst = 2 * plan.points_per_second
        if items > burst:
            raise PayloadTooLarge(f"a request may hold at most {int(burst)} items on this plan; split it")
        await self._limiter.check(f"tenant:{tenant_id}:points", plan.points_per_second, burst, cost=items)

    async def store(self, signal: str, tenant_id: str, rows, digest: str) -> TelemetryOutcome:
        """Charge ``rows`` (an Arrow table of spans or logs) to the tenant and store them once."""
        await self._charge(tenant_id, rows.num_rows)
        if self._in_flight >= self._max_in_flight:
            raise Unavailable("ingestion is busy, retry shortly", retry_after=1)
        self._in_flight += 1
        started = time.perf_counter()
        try:
            if signal == "spans":
                outcome = await self._store.aio.ingest_spans(tenant_id, rows, digest,
                                                             self._settings.otlp.max_span_names)
            else:
                outcome = await self._store.aio.ingest_logs(tenant_id, rows, digest)
        finally:
            self._in_flight -= 1
        self._metrics.ingest_seconds.labels(f"otlp_{signal}").observe(time.perf_counter() - started)
        return outcome

    def count(self, signal: str, accepted: int, rejected: int) -> None:
        if accepted:
            self._metrics.otlp_items.labels(signal, "accepted").inc(accepted)
        if rejected:
            self._metrics.otlp_items.labels(signal, "rejected").inc(rejected)
