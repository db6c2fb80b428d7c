"""``watchdog-shard-<n>``: owns the streaming detection of the tenants hashed onto it.

Every accepted batch of its tenants arrives here once storage holds it; the shard feeds it
to the tenant's :class:`~aiops.watchdog.TenantWatch` and writes the anomalies that opened
or grew (and queues an RCA for those above ``watchdog.rca_threshold``) before answering.
Detection state is checkpointed to ClickHouse every ``watchdog.checkpoint_seconds``. On
start (a fresh engine or a restart after a crash) the shard restores its tenants'
checkpoints and replays the points stored since, so detection continues where it was;
a tenant without a checkpoint warms up from recent stored history instead.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from actors.directory import ActorDirectory, wake_incident_manager, wake_rca_workers
from aiops.clock import SYSTEM_CLOCK, Clock
from aiops.dashboard import ShardMetrics, p95
from aiops.ingest.batch import PointBatch
from aiops.logs import configure_engine_logging
from aiops.settings import Settings
from aiops.sharding import shard_for
from aiops.storage.gateway import StoreGateway
from aiops.watchdog import TenantWatch

log = logging.getLogger(__name__)

REQUESTED_MEMORY = 10_000  # anomaly ids whose RCA this shard has already queued (an episode asks once)


class WatchdogShard:
    def __init__(self, settings: Settings, index: int, clock: Clock = SYSTEM_CLOCK) -> None:
        self._settings = settings
        self._clock = clock  # warm-up windows, last run, RCA request and checkpoint times
        configure_engine_logging(settings)
        self._index = index
        self._store = StoreGateway.for_settings(settings)
        self._actors = ActorDirectory(settings)
        self._dashboard = ShardMetrics(index, per_tenant=settings.metrics.per_tenant)
        self._waiting = 0
        self._durations: list[float] = []
        self._tenants: dict[str, TenantWatch] = {}
        self._lock = threading.RLock()
        self._last_run: datetime | None = None
        self._requested: OrderedDict[str, None] = OrderedDict()
        self._restored = 0
        self._restore()
        self._stopping = threading.Event()
        threading.Thread(target=self._checkpoint_forever, name="checkpoints", daemon=True).start()

    def _options(self) -> dict:
        watchdog = self._settings.watchdog
        return {"close_after": watchdog.close_after, "rca_threshold": watchdog.rca_threshold}

    def _mine(self, tenant_id: str) -> bool:
        return shard_for(tenant_id, self._settings.watchdog.shards) == self._index

    # -- restore and catch up ----------------------------------------------------------
    def _restore(self) -> None:
        try:
            tenants = [t for t in self._store.sync.checkpointed_tenants() if self._mine(t)]
            saved = self._store.sync.load_checkpoints(tenants)
        except Exception as error:  # storage not up yet: tenants warm up on first use instead
            log.warning("watchdog shard %d could not restore checkpoints: %s", self._index, error)
            return
        for tenant_id, (_, blob, saved_at) in saved.items():
            watch = TenantWatch.restore(tenant_id, blob, **self._options())
            newest = watch.newest_ms
            since = datetime.fromtimestamp(newest / 1000, UTC) if newest else saved_at
            # Points stored after the checkpoint: scored now, anomalies written (same ids as before).
            self._replay(watch, since, emit=True)
            self._tenants[tenant_id] = watch
            self._restored += 1

    def _replay(self, watch: TenantWatch, since: datetime, *, emit: bool) -> int:
        limit = self._settings.watchdog.warmup_points
        batch = self._store.sync.points_since(watch.tenant_id, since, limit) if limit else None
        if batch is None:
            return 0
        observation = watch.observe(batch, emit=emit)
        if emit:
            self._write(watch, observation.anomalies)
        return observation.fresh_points

    def _watch(self, tenant_id: str) -> TenantWatch:
        watch = self._tenants.get(tenant_id)
        if watch is None:
            choice = self._store.sync.model_choices(tenant_id).get("detector")
            name, config = (choice[0], json.loads(choice[1] or "{}")) if choice else (
                self._settings.watchdog.detector, {})
            watch = TenantWatch(tenant_id, name, config, **self._options())
            warmup = self._clock.now() - timedelta(hours=self._settings.watchdog.warmup_hours)
            self._replay(watch, warmup, emit=False)  # history already scored before: learn, don't re-alert
            self._tenants[tenant_id] = watch
        return watch

    # -- the live path -------------------------------------------------------------------
    def ingest(self, tenant_id: str, batch: PointBatch) -> int:
        """Score a stored batch; returns how many of its points were new to detection."""
        self._waiting += 1
        self._dashboard.queue.set(self._waiting)
        try:
            with self._lock:
                began = time.perf_counter()
                watch = self._watch(tenant_id)
                observation = watch.observe(batch)
                self._write(watch, observation.anomalies)
                self._last_run = self._clock.now()
                elapsed = time.perf_counter() - began
        finally:
            self._waiting -= 1
            self._dashboard.queue.set(self._waiting)
        self._durations = (self._durations + [elapsed])[-256:]
        self._dashboard.seconds.observe(elapsed)
        self._dashboard.scored(tenant_id, observation.fresh_points)
        return observation.fresh_points

    def _write(self, watch: TenantWatch, anomalies: list) -> None:
        if not anomalies:
            return
        self._store.sync.upsert_anomalies(anomalies)
        wake_incident_manager(self._actors)
        # An open episode is rewritten with every batch that grows it; its RCA is queued once.
        # (After a restart the memory is empty: the queue's own check keeps the request single.)
        wanting = [a.anomaly_id for a in anomalies if a.rca_triggered and a.anomaly_id not in self._requested]
        if wanting:
            if self._store.sync.request_rcas(watch.tenant_id, wanting, self._clock.now()):
                wake_rca_workers(self._actors, wanting)
            for anomaly_id in wanting:
                self._requested[anomaly_id] = None
            while len(self._requested) > REQUESTED_MEMORY:
                self._requested.popitem(last=False)

    def feedback(self, tenant_id: str, series_id: int, verdict: str) -> float | None:
        with self._lock:
            watch = self._tenants.get(tenant_id)
            return watch.feedback(series_id, verdict) if watch else None

    def swap_model(self, tenant_id: str, name: str, config: dict) -> int:
        """Replace the tenant's detector; the new one learns from recent history first."""
        fresh = TenantWatch(tenant_id, name, config, **self._options())
        warmup = self._clock.now() - timedelta(hours=self._settings.watchdog.warmup_hours)
        learned = self._replay(fresh, warmup, emit=False)
        with self._lock:
            previous = self._tenants.get(tenant_id)
            if previous is not None and previous.newest_ms and (fresh.newest_ms or 0) < previous.newest_ms:
                # Points that arrived while the new model was learning.
                self._replay(fresh, datetime.fromtimestamp((fresh.newest_ms or 0) / 1000, UTC), emit=False)
            self._tenants[tenant_id] = fresh
            self._save(fresh)
        return learned

    # -- checkpoints ---------------------------------------------------------------------
    def _save(self, watch: TenantWatch) -> None:
        self._store.sync.save_checkpoint(watch.tenant_id, watch.model, watch.checkpoint(), self._clock.now())
        watch.dirty = False

    def checkpoint(self) -> int:
        """Save every tenant whose state changed since its last checkpoint; returns how many."""
        with self._lock:
            dirty = [watch for watch in self._tenants.values() if watch.dirty]
            for watch in dirty:
                self._save(watch)
        return len(dirty)

    def _checkpoint_forever(self) -> None:
        while not self._stopping.wait(self._settings.watchdog.checkpoint_seconds):
            try:
                self.checkpoint()
            except Exception as error:  # storage briefly away: the next round retries
                log.warning("watchdog shard %d checkpoint failed: %s", self._index, error)

    def stop(self) -> None:
        self._stopping.set()
        self.checkpoint()

    def status(self) -> dict:
        """Liveness plus the figures ``GET /api/v1/status`` reports. Never waits for a batch."""
        tenants = dict(self._tenants)  # a snapshot: status must answer while ingest works
        return {
            "shard": self._index,
            "state": "running",
            "last_run": self._last_run,
            "restored_tenants": self._restored,
            "series_by_tenant": {tenant: watch.size for tenant, watch in tenants.items()},
            "points_by_tenant": {tenant: watch.points_seen for tenant, watch in tenants.items()},
            "models": {tenant: watch.model for tenant, watch in tenants.items()},
            "queue_depth": self._waiting,
            "detection_p95_seconds": p95(self._durations),
        }
