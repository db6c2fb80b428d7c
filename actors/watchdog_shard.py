"""``watchdog-shard-<n>``: owns the streaming detection state of the tenants hashed onto it.

This shell holds what it has seen per tenant and reports it; the detectors it delegates
to live in ``models/``.
"""

from __future__ import annotations

from datetime import datetime

from aiops.settings import Settings


class WatchdogShard:
    def __init__(self, settings: Settings, index: int) -> None:
        self._settings = settings
        self._index = index
        self._series_by_tenant: dict[str, int] = {}
        self._last_run: datetime | None = None

    def status(self) -> dict:
        """Liveness plus the figures ``GET /api/v1/status`` reports."""
        return {
            "shard": self._index,
            "state": "running",
            "last_run": self._last_run,
            "series_by_tenant": dict(self._series_by_tenant),
        }
