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

from actors.directory import ActorDirectory, wake_notifier
from actors.poller import Poller
from aiops.incident.service import IncidentService
from aiops.logs import configure_engine_logging
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway


class IncidentManager:
    def __init__(self, settings: Settings) -> None:
        configure_engine_logging(settings)
        grouping = settings.incident_grouping
        self._service = IncidentService(settings, StoreGateway.for_settings(settings).sync)
        self._actors = ActorDirectory(settings)
        self._poller = Poller("incident-manager", self._pass, grouping.poll_seconds, grouping.idle_poll_seconds)
        self._poller.start()

    def _pass(self) -> int:
        enqueued = self._service.notifications
        handled = self._service.run_once()
        if self._service.notifications > enqueued:
            wake_notifier(self._actors)
        return handled

    def run_once(self) -> int:
        return self._poller.run_once()

    def wake(self) -> None:
        """Signals were stored or an RCA finished: pass now rather than at the next poll."""
        self._poller.wake()

    def acknowledge(self, tenant_id: str, incident_id: str, by: str):
        return self._service.acknowledge(tenant_id, incident_id, by)

    def resolve(self, tenant_id: str, incident_id: str, by: str):
        return self._service.resolve(tenant_id, incident_id, by)

    def status(self) -> dict:
        return {"state": "running", **self._service.status(), "last_error": self._poller.last_error}

    def stop(self) -> None:
        self._poller.stop()
