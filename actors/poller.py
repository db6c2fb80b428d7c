"""A pass repeated on a background thread: at once when woken, backing off while idle.

The incident manager and the notifier each run one: whoever hands them work calls ``wake``,
and otherwise they look every ``poll`` seconds while passes find something, the wait
doubling up to ``idle_poll`` while they find nothing (:func:`actors.directory.next_wait`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from actors.directory import next_wait

log = logging.getLogger(__name__)


class Poller:
    """Runs ``work()`` (returns how many things it handled) on a daemon thread named ``name``.

    A pass that raises counts as idle: its error is logged once per distinct message and kept
    as ``last_error`` (storage unreachable: the same work is still there next pass)."""

    def __init__(self, name: str, work: Callable[[], int], poll: float, idle_poll: float) -> None:
        self._name, self._work = name, work
        self._poll, self._idle_poll = poll, idle_poll
        self.last_error = ""
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._forever, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run_once(self) -> int:
        """One pass now, on the caller's thread; 0 when it failed."""
        try:
            return self._work()
        except Exception as error:
            if str(error) != self.last_error:
                log.warning("%s pass failed: %s", self._name, error)
            self.last_error = str(error)
            return 0

    def wake(self) -> None:
        """Work was handed over: pass now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def _forever(self) -> None:
        wait = self._poll
        while not self._stopping.is_set():
            woken = self._wake.wait(wait)
            self._wake.clear()
            if self._stopping.is_set():
                break
            busy = self.run_once() > 0 or woken
            wait = next_wait(wait, busy, self._poll, self._idle_poll)
