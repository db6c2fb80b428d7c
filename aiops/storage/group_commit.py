"""Group commit: concurrent writers share one ClickHouse insert.

Every insert makes a new part (files, checksums, later a merge), so a few large inserts
cost far less than many small ones. The first writer to arrive becomes the leader and
writes everything queued, including what arrives while it writes; the others wait for
their turn's outcome. No timer: under light load a batch is written alone, at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass
class _Ticket(Generic[Item]):
    item: Item
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit(Generic[Item]):
    def __init__(self, write: Callable[[list[Item]], None], *, max_items: int = 64) -> None:
        self._write = write
        self._max_items = max_items
        self._lock = threading.Lock()
        self._queue: list[_Ticket[Item]] = []
        self._leading = False

    def submit(self, item: Item) -> None:
        """Return once ``item`` is written (with others); raise what the write raised."""
        ticket = _Ticket(item)
        with self._lock:
            self._queue.append(ticket)
            lead = not self._leading
            if lead:
                self._leading = True
        if not lead:
            ticket.done.wait()
        else:
            self._lead()
        if ticket.error is not None:
            raise ticket.error

    def _lead(self) -> None:
        while True:
            with self._lock:
                group, self._queue = self._queue[: self._max_items], self._queue[self._max_items:]
                if not group:
                    self._leading = False
                    return
            try:
                self._write([ticket.item for ticket in group])
            except BaseException as error:  # every writer of the group learns of it
                for ticket in group:
                    ticket.error = error
            for ticket in group:
                ticket.done.set()
