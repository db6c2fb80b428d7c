"""The ingestion pipeline of an API replica: quota, durable write, watchdog delivery.

A decoded batch is charged to its tenant's ``points_per_second`` quota (429), written to
ClickHouse exactly once (its content digest is the insert deduplication token; 429 when it
would pass the plan's series limit, 409 when it would change a stored point, and then
nothing is written; OTLP's points that would change a stored one are left out instead and
reported, the rest written), and only then handed to the tenant's watchdog shard (what
storage holds, nothing else). Queues are bounded: a replica admits a fixed number of
batches in flight and a shard a fixed number of pending calls; past either the answer is
503 with ``Retry-After``. A batch that was stored but not delivered is answered 503 too:
its retry is stored once (same digest) and seen once (the shard skips points it has).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.directory import WATCHDOG_SHARD, ActorDirectory
from aiops.errors import Conflict, PayloadTooLarge, RateLimited, Unavailable
from aiops.ingest.batch import PointBatch
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway
from deployments.access import TenantDirectory
from deployments.limits import LeasedLimiter
from deployments.observability import EngineMetrics

if TYPE_CHECKING:
    from ray.util.metrics import Counter

log = logging.getLogger(__name__)

SHARD_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Accepted:
    """What :meth:`IngestPipeline.accept` made durable: points, and those left out for changing a stored one."""

    points: int
    changed: int = 0
    change: str | None = None  # the first point left out, in words


class IngestPipeline:
    def __init__(self, settings: Settings, store: StoreGateway, tenants: TenantDirectory, limiter: LeasedLimiter,
                 actors: ActorDirectory, metrics: EngineMetrics) -> None:
        self._settings = settings
        self._store = store
        self._tenants = tenants
        self._limiter = limiter
        self._actors = actors
        self._metrics = metrics
        self._in_flight = 0
        self._max_in_flight = settings.ingest.max_batches_in_flight
        self._dashboard_points: Counter | None = None

    def limit_in_flight(self, batches: int) -> None:
        """Change how many batches this replica stores at once (Serve ``user_config``)."""
        self._max_in_flight = batches

    def _count_for_dashboard(self, source: str, points: int) -> None:
        """The Ray dashboard's copy of the points counter (made in the replica, on first use)."""
        if self._dashboard_points is None:
            from ray.util.metrics import Counter

            self._dashboard_points = Counter(
                "aiops_ingested_points", description="Metric points accepted (durable).", tag_keys=("format",))
        self._dashboard_points.inc(points, tags={"format": source})

    async def accept(self, tenant_id: str, batch: PointBatch, source: str, *, keep_stored: bool = False) -> Accepted:
        """Make ``batch`` durable and deliver it. A point that would change a stored one refuses the
        batch (409), or with ``keep_stored`` (OTLP) is left out, counted and named in the answer."""
        plan = await self._tenants.plan_of(tenant_id)
        if plan is None:  # authentication already checked; the tenant vanished since
            raise Unavailable("tenant is being changed, retry shortly")
        burst = 2 * plan.points_per_second
        if batch.points > burst:
            raise PayloadTooLarge(f"a batch may hold at most {int(burst)} points on this plan; split it")
        await self._limiter.check(f"tenant:{tenant_id}:points", plan.points_per_second, burst, cost=batch.points)
        if self._in_flight >= self._max_in_flight:
            raise Unavailable("ingestion is busy, retry shortly", retry_after=1)
        self._in_flight += 1
        started = time.perf_counter()
        try:
            outcome = await self._store.aio.ingest_batch(
                tenant_id, batch.points_table(tenant_id), batch.series_table(tenant_id), batch.digest(tenant_id),
                plan.max_series, keep_stored=keep_stored,
            )
            if outcome.refused:
                self._metrics.ingest_refused.labels(source, "series_limit").inc()
                raise RateLimited(f"series limit: {outcome.refused}", retry_after=60)
            if outcome.conflict:
                self._metrics.ingest_refused.labels(source, "conflict").inc()
                raise Conflict(outcome.conflict)
            changed = 0
            if outcome.changed_points is not None:  # the watchdog sees only what storage holds
                changed = int(outcome.changed_points.size)
                batch = batch.without(outcome.changed_points)
            if batch.points:
                await self._deliver(tenant_id, batch)
        finally:
            self._in_flight -= 1
        self._metrics.ingest_points.labels(source).inc(batch.points)
        self._count_for_dashboard(source, batch.points)
        self._metrics.ingest_seconds.labels(source).observe(time.perf_counter() - started)
        return Accepted(batch.points, changed, outcome.change)

    async def _deliver(self, tenant_id: str, batch: PointBatch) -> None:
        from ray.exceptions import PendingCallsLimitExceeded

        name, shard = self._actors.owner(WATCHDOG_SHARD, tenant_id)
        if shard is None:
            raise Unavailable(f"{name} is not running; the batch is stored, retry to deliver it", retry_after=2)
        try:
            await asyncio.wait_for(shard.ingest.remote(tenant_id, batch), SHARD_TIMEOUT_SECONDS)
        except PendingCallsLimitExceeded:
            raise Unavailable(f"{name} is behind; the batch is stored, retry to deliver it", retry_after=1) from None
        except Exception as error:
            self._actors.forget(name)
            log.warning("delivery to %s failed: %r", name, error)
            raise Unavailable(f"{name} did not take the batch; it is stored, retry to deliver it",
                              retry_after=2) from None
