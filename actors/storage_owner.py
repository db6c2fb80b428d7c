"""``storage-owner-0``: the one process that opens embedded chDB; everyone else calls it.

chDB lets a single process hold a data path, so in embedded mode the :class:`Store` runs
here, with a small pool of clients and several concurrent calls (a threaded actor). Calls
are not retried after a crash (callers get 503 and retry), because a write replayed by Ray
and again by the client would be harder to reason about than one clean failure.
"""

from __future__ import annotations

from aiops.settings import Settings
from aiops.storage.store import Store


class StorageOwner(Store):
    """The :class:`Store`, hosted in a long-lived actor. Every public Store method is callable."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # Migrate before anything else: Ray delivers no call until the constructor returns,
        # so actors started beside this one never query the schema before it is current.
        self._applied_at_start: list[int] | None = super().migrate()

    def migrate(self) -> list[int]:
        """The first call answers what the constructor applied (without migrating twice at
        start); later calls migrate as usual."""
        if self._applied_at_start is not None:
            applied, self._applied_at_start = self._applied_at_start, None
            return applied
        return super().migrate()
