"""``notifier-0``: delivers the notification outbox (:class:`~aiops.notify.sender.Notifier`).

A thread takes the due rows every ``incident_grouping.poll_seconds`` while there are some,
backing off (doubling) to ``incident_grouping.idle_poll_seconds`` while there are none, and
at once when the incident manager wakes it after enqueueing rows. Everything it needs is in
storage, so a restart only repeats an attempt whose answer was not recorded: at least once,
deduped by idempotency key.
"""

from __future__ import annotations

from actors.poller import Poller
from aiops.logs import configure_engine_logging
from aiops.notify.sender import Notifier
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway


class NotifierActor:
    def __init__(self, settings: Settings) -> None:
        configure_engine_logging(settings)
        grouping = settings.incident_grouping
        self._notifier = Notifier(settings, StoreGateway.for_settings(settings).sync)
        self._poller = Poller("notifier", self._notifier.run_once, grouping.poll_seconds, grouping.idle_poll_seconds)
        self._poller.start()

    def run_once(self) -> int:
        return self._poller.run_once()

    def wake(self) -> None:
        """Rows were enqueued: look now rather than at the next poll."""
        self._poller.wake()

    def status(self) -> dict:
        return {"state": "running", **self._notifier.status(), "last_error": self._poller.last_error}

    def stop(self) -> None:
        self._poller.stop()
        self._notifier.close()
