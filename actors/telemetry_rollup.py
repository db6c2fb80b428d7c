"""``telemetry-rollup-<n>``: rolls closed minutes of its tenants' spans and logs up into series.

A thin shell around :class:`~aiops.telemetry.rollup.TelemetryRollup`: a thread runs a pass
every ``otlp.rollup_interval_seconds`` and hands each stored batch of series to the
tenant's watchdog shard, as the API's ingestion does. Tenants are hashed onto the
``otlp.rollup_workers`` actors. Its only state is the tenants' template miners, which it
rebuilds from storage after a restart; what is done is recorded in storage, so a restart
repeats at most the minute in hand (its series are stored once by content).
"""

from __future__ import annotations

import logging
import threading

from actors.directory import WATCHDOG_SHARD, ActorDirectory
from aiops.ingest.batch import PointBatch
from aiops.logs import configure_engine_logging
from aiops.settings import Settings
from aiops.sharding import shard_for
from aiops.storage.gateway import StoreGateway
from aiops.telemetry.rollup import TelemetryRollup

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 30.0


class TelemetryRollupWorker:
    def __init__(self, settings: Settings, index: int) -> None:
        self._settings = settings
        configure_engine_logging(settings)
        self._index = index
        self._store = StoreGateway.for_settings(settings)
        self._actors = ActorDirectory(settings)
        self._rollup = TelemetryRollup(settings, self._store.sync, self._deliver, self._owns)
        self._passes = 0
        self._minutes = 0
        self._last_error = ""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._forever, name="telemetry-rollup", daemon=True)
        self._thread.start()

    def _owns(self, tenant_id: str) -> bool:
        return shard_for(tenant_id, self._settings.otlp.rollup_workers) == self._index

    def _deliver(self, tenant_id: str, batch: PointBatch) -> None:
        import ray

        name, shard = self._actors.owner(WATCHDOG_SHARD, tenant_id)
        if shard is None:
            raise RuntimeError(f"{name} is not running")
        try:
            ray.get(shard.ingest.remote(tenant_id, batch), timeout=DELIVERY_TIMEOUT_SECONDS)
        except Exception:
            self._actors.forget(name)
            raise

    def _forever(self) -> None:
        interval = self._settings.otlp.rollup_interval_seconds
        while not self._stopping.wait(interval):
            self.run_once()

    def run_once(self) -> int:
        """One pass now (also what tests and the bench call); returns the minutes rolled up."""
        try:
            done = self._rollup.run_once()
        except Exception as error:  # storage unreachable: try again next pass
            self._last_error = str(error)
            log.warning("telemetry rollup pass failed: %s", error)
            return 0
        self._passes += 1
        self._minutes += done
        return done

    def status(self) -> dict:
        return {"state": "running", "index": self._index, "passes": self._passes, "minutes_rolled_up": self._minutes,
                "last_error": self._last_error}

    def stop(self) -> None:
        self._stopping.set()
