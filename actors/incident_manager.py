"""``incident-manager-0``: groups every tenant's signals into incidents (:mod:`aiops.incident.service`).

One actor for all tenants: grouping is cheap (a few set lookups per signal) and must see a
tenant's signals in one order to be deterministic. A thread runs a pass every
``incident_grouping.poll_seconds`` while passes find signals, backing off (doubling) to
``incident_grouping.idle_poll_seconds`` while they find none; whoever stores signals (the
watchdog shards, the alert intake) or finishes an RCA calls ``wake``, so a signal waits for
no poll. A pass that enqueued notifications wakes the notifier. The API's acknowledge and
resolve calls come in on the actor's own threads and take the same lock. Its state is
rebuilt from the stored snapshots and cursor after a restart.
"""

from __future__ import annotations

import logging
import threading

from actors.directory import ActorDirectory, next_wait, wake_notifier
from aiops.incident.service import IncidentService
from aiops.logs import configure_engine_logging
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway

log = logging.getLogger(__name__)


class IncidentManager:
    def __init__(self, settings: Settings) -> None:
        configure_engine_logging(settings)
        self._settings = settings
        self._service = IncidentService(settings, StoreGateway.for_settings(settings).sync)
        self._actors = ActorDirectory(settings)
        self._last_error = ""
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._forever, name="incident-manager", daemon=True)
        self._thread.start()

    def _forever(self) -> None:
        grouping = self._settings.incident_grouping
        wait = grouping.poll_seconds
        while not self._stopping.is_set():
            woken = self._wake.wait(wait)
            self._wake.clear()
            if self._stopping.is_set():
                break
            enqueued = self._service.notifications
            busy = self.run_once() > 0 or woken
            if self._service.notifications > enqueued:
                wake_notifier(self._actors)
            wait = next_wait(wait, busy, grouping.poll_seconds, grouping.idle_poll_seconds)

    def run_once(self) -> int:
        try:
            return self._service.run_once()
        except Exception as error:  # storage unreachable: the same signals are read again next pass
            if str(error) != self._last_error:
                log.warning("incident pass failed: %s", error)
            self._last_error = str(error)
            return 0

    def wake(self) -> None:
        """Signals were stored or an RCA finished: pass now rather than at the next poll."""
        self._wake.set()

    def acknowledge(self, tenant_id: str, incident_id: str, by: str):
        return self._service.acknowledge(tenant_id, incident_id, by)

    def resolve(self, tenant_id: str, incident_id: str, by: str):
        return self._service.resolve(tenant_id, incident_id, by)

    def status(self) -> dict:
        return {"state": "running", **self._service.status(), "last_error": self._last_error}

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
