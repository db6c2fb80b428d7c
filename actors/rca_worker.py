"""``rca-worker-<n>``: one of a pool that computes correlation graphs and ranks root causes."""

from __future__ import annotations

from aiops.settings import Settings


class RcaWorker:
    def __init__(self, settings: Settings, index: int) -> None:
        self._settings = settings
        self._index = index
        self._completed = 0

    def status(self) -> dict:
        return {"worker": self._index, "state": "ready", "completed": self._completed}
