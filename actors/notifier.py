"""``notifier-0``: delivers the notification outbox (:class:`~aiops.notify.sender.Notifier`).

A thread takes the due rows every ``incident_grouping.poll_seconds`` while there are some,
backing off (doubling) to ``incident_grouping.idle_poll_seconds`` while there are none, and
at once when the incident manager wakes it after enqueueing rows. Everything it needs is in
storage, so a restart only repeats an attempt whose answer was not recorded: at least once,
deduped by idempotency key.
"""

from __future__ import annotations

import logging
import threading

from actors.directory import next_wait
from aiops.logs import configure_engine_logging
from aiops.notify.sender import Notifier
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway

log = logging.getLogger(__name__)


class NotifierActor:
    def __init__(self, settings: Settings) -> None:
        configure_engine_logging(settings)
        self._settings = settings
        self._notifier = Notifier(settings, StoreGateway.for_settings(settings).sync)
        self._last_error = ""
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._forever, name="notifier", daemon=True)
        self._thread.start()

    def _forever(self) -> None:
        grouping = self._settings.incident_grouping
        wait = grouping.poll_seconds
        while not self._stopping.is_set():
            woken = self._wake.wait(wait)
            self._wake.clear()
            if self._stopping.is_set():
                break
            busy = self.run_once() > 0 or woken
            wait = next_wait(wait, busy, grouping.poll_seconds, grouping.idle_poll_seconds)

    def run_once(self) -> int:
        try:
            return self._notifier.run_once()
        except Exception as error:  # storage unreachable: the rows are still due next pass
            if str(error) != self._last_error:
                log.warning("notifier pass failed: %s", error)
            self._last_error = str(error)
            return 0

    def wake(self) -> None:
        """Rows were enqueued: look now rather than at the next poll."""
        self._wake.set()

    def status(self) -> dict:
        return {"state": "running", **self._notifier.status(), "last_error": self._last_error}

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._notifier.close()
