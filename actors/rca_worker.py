"""``rca-worker-<n>``: one of a pool that runs root-cause analyses and learns correlation graphs.

The queue is durable: requests are ``rca_results`` rows (``pending``), written by the
watchdog shards, the alert intake and ``GET /api/v1/rca/{id}``, which then ``wake`` the
owning worker. Every worker polls it, every ``rca.poll_seconds`` while it holds requests
of its own and backing off to ``rca.idle_poll_seconds`` while it has none (a lost wake-up
costs at most that; a wake-up or a restart looks at once);
a request belongs to the worker its anomaly id hashes to (rendezvous over the pool), which
marks it ``running`` (with its index and an attempt count) before analysing and ``done`` or
``failed`` after. Nothing is lost when a worker dies: its restarted self retakes its own
``running`` rows at once, and any worker takes a request whose claim is older than
``rca.claim_timeout_seconds`` (a worker that never came back). After ``rca.max_attempts``
claims a request fails with the reason instead of crashing workers forever.

The analysis (and torch) loads on a lowest-priority thread after the constructor returns:
``status`` says ``starting`` until then, so the engine's readiness does not wait for it.

Each worker also relearns, every ``rca.graph_refresh_seconds``, the correlation graphs of
the tenants hashed onto it, and answers on-demand graph queries (``correlations``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from actors.directory import ActorDirectory, next_wait, wake_incident_manager
from aiops.clock import SYSTEM_CLOCK, Clock
from aiops.dashboard import RcaMetrics, p95
from aiops.incident_memory import similar_incidents
from aiops.logs import configure_engine_logging
from aiops.rca.claims import ClaimPolicy
from aiops.rca.narrator import LlmNarrator
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway
from aiops.storage.records import RcaRecord

if TYPE_CHECKING:
    from aiops.rca.runner import RcaRunner

log = logging.getLogger(__name__)

QUEUE_BATCH = 64


class RcaWorker:
    def __init__(self, settings: Settings, index: int, clock: Clock = SYSTEM_CLOCK) -> None:
        self._settings = settings
        configure_engine_logging(settings)
        self._index = index
        self._store = StoreGateway.for_settings(settings)
        self._actors = ActorDirectory(settings)
        self._narrator = LlmNarrator(settings.llm)
        self._runner: RcaRunner | None = None
        self._load_error = ""
        self._loaded = threading.Event()
        self._clock = clock
        self._claims = ClaimPolicy(index, settings.rca.workers, timedelta(seconds=settings.rca.claim_timeout_seconds),
                                   settings.rca.max_attempts, clock.now())
        self._completed = 0
        self._failed = 0
        self._durations: list[float] = []
        self._queue_depth = 0
        self._dashboard = RcaMetrics(index)
        self._last_error = ""
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._graphs_at: dict[str, float] = {}
        # The analysis (and torch with it) loads on a lowest-priority thread, so the worker
        # answers ``status`` (``starting``) at once and the load yields to what makes the
        # engine ready; the queue is looked at once it is loaded.
        threading.Thread(target=self._load_runner, name="load-rca-runner", daemon=True).start()
        threading.Thread(target=self._forever, name="rca-queue", daemon=True).start()

    def _load_runner(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # this thread only
        except OSError:
            pass
        try:
            # Here, not at the top: every process that holds a handle to this actor (the driver,
            # Serve replicas, the webhook listener) imports this module, and the analysis brings
            # torch; only the worker itself runs it.
            from aiops.rca.runner import RcaRunner

            settings, store, actors = self._settings, self._store, self._actors
            self._runner = RcaRunner(
                settings, store.sync, narrator=self._narrator,
                similar=lambda tenant, texts, root: similar_incidents(settings, store.sync, actors, tenant, texts,
                                                                     root),
            )
        except Exception as error:  # status says failed (the role degraded) and why; requests stay queued
            self._load_error = f"{type(error).__name__}: {error}"
            log.exception("rca worker %d: the analysis did not load", self._index)
        finally:
            self._loaded.set()

    @property
    def _analysis(self) -> RcaRunner:
        """The loaded runner (waits for the load); raises RuntimeError when it failed to load."""
        self._loaded.wait()
        if self._runner is None:
            raise RuntimeError(f"the analysis did not load: {self._load_error}")
        return self._runner

    # -- the queue -------------------------------------------------------------------------
    def _mine(self, key: str) -> bool:
        return self._claims.mine(key)

    def _takes(self, request: RcaRecord, now: datetime) -> bool:
        return self._claims.takes(request, now)

    def drain(self) -> int:
        """Run every queued request this worker should take now; returns how many finished."""
        now = self._clock.now()
        finished = 0
        queue = self._store.sync.rca_queue_all_tenants(QUEUE_BATCH)
        self._queue_depth = sum(self._takes(r, now) for r in queue)
        self._dashboard.queue.set(self._queue_depth)
        for request in queue:
            if self._stopping.is_set():
                break
            if self._takes(request, now):
                finished += self._run(request)
                if self._wake.is_set():
                    break  # new requests came in: re-read the queue, someone may be waiting on them
        return finished

    def _run(self, request: RcaRecord) -> int:
        attempts = request.attempts + 1
        if self._claims.gives_up(request):
            self._finish(replace(request, status="failed", updated_at=self._clock.now(), error_code="gave_up",
                                 error=f"gave up after {request.attempts} attempts (a worker died each time)"))
            return 1
        claimed = replace(request, status="running", attempts=attempts, worker=self._index,
                          updated_at=self._clock.now())
        self._store.sync.save_rca(claimed)
        began = time.perf_counter()
        try:
            result = self._analysis.analyse(claimed)
        except Exception as error:  # an analysis bug must not take the queue down with it
            # The exception's text (library internals, paths) goes to this worker's log under a
            # reference the stored reason gives, so a person can find it; the reason itself is words.
            ref = f"{request.tenant_id}/{request.anomaly_id}#{attempts}"
            log.exception("rca %s failed", ref)
            self._last_error = f"{type(error).__name__}: {error}"
            status = "failed" if attempts >= self._settings.rca.max_attempts else "pending"
            result = replace(claimed, status=status, error_code="analysis_error", updated_at=self._clock.now(),
                             error=f"the analysis failed unexpectedly; details are in rca-worker-{self._index}'s "
                                   f"log under {ref}")
        elapsed = time.perf_counter() - began
        self._durations = (self._durations + [elapsed])[-256:]
        self._dashboard.seconds.observe(elapsed, tags={"status": result.status})
        self._finish(result)
        return int(result.status in ("done", "failed"))

    def _finish(self, result: RcaRecord) -> None:
        self._store.sync.save_rca(result)
        self._dashboard.results.inc(tags={"status": result.status})
        if result.status == "done":
            self._completed += 1
        elif result.status == "failed":
            self._failed += 1
        if result.status in ("done", "failed"):
            wake_incident_manager(self._actors)  # an incident may be waiting on this analysis

    # -- graphs ----------------------------------------------------------------------------
    def refresh_graphs(self) -> int:
        """Relearn the graphs of this worker's tenants that sent data lately and are due."""
        rca = self._settings.rca
        since = self._clock.now() - timedelta(minutes=rca.lookback_minutes)
        refreshed = 0
        for tenant_id in self._store.sync.tenants_with_points_since(since):
            due = time.monotonic() - self._graphs_at.get(tenant_id, -1e18) >= rca.graph_refresh_seconds
            if self._mine(tenant_id) and due and not self._stopping.is_set():
                self._analysis.refresh_graph(tenant_id)
                self._graphs_at[tenant_id] = time.monotonic()
                refreshed += 1
        return refreshed

    def correlations(self, tenant_id: str, service_id: str, depth: int) -> list[dict] | None:
        """Services related to ``service_id`` within ``depth`` hops; None if the service is unknown."""
        graph = self._analysis.current_graph(tenant_id, self._settings.rca.graph_refresh_seconds)
        known = graph is not None and service_id in graph.services
        if not known and not self._store.sync.service_known(tenant_id, service_id):
            return None
        related = graph.related(service_id, depth) if graph is not None else []
        return [{"related_service": r.service_id, "correlation_score": round(r.correlation_score, 4),
                 "lag_minutes": r.lag_minutes, "direction": r.direction, "depth": r.depth} for r in related]

    # -- lifecycle -------------------------------------------------------------------------
    def _forever(self) -> None:
        poll, idle_poll = self._settings.rca.poll_seconds, self._settings.rca.idle_poll_seconds
        next_graphs = time.monotonic() + min(30.0, self._settings.rca.graph_refresh_seconds)
        wait = 0.0  # the first look, once loaded, is immediate: a restarted worker retakes its own claims
        while not (self._loaded.wait(1.0) or self._stopping.is_set()):
            pass
        if self._runner is None:
            return  # the analysis did not load: status says why
        while not self._stopping.is_set():
            woken = self._wake.wait(wait)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self.drain()
                # Work of mine was queued (or a wake-up): keep looking every poll. Otherwise back
                # off, doubling: new requests wake their owner, and others' claims only become
                # mine after rca.claim_timeout_seconds.
                wait = next_wait(wait, woken or bool(self._queue_depth), poll, idle_poll)
                if time.monotonic() >= next_graphs:
                    next_graphs = time.monotonic() + min(30.0, self._settings.rca.graph_refresh_seconds)
                    self.refresh_graphs()
            except Exception as error:  # storage restarting: keep polling, say why
                wait = poll
                self._last_error = f"{type(error).__name__}: {error}"
                log.warning("rca worker %d: %s", self._index, self._last_error)

    def wake(self) -> None:
        """New requests were queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def status(self) -> dict:
        state = "ready" if self._runner is not None else ("failed" if self._loaded.is_set() else "starting")
        return {"worker": self._index, "state": state, "load_error": self._load_error,
                "completed": self._completed, "failed": self._failed,
                "queue_depth": self._queue_depth, "duration_p95_seconds": p95(self._durations),
                "last_error": self._last_error,
                "llm_error": self._narrator.last_error}
