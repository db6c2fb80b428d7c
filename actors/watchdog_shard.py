"""``watchdog-shard-<n>``: owns the streaming detection state of the tenants hashed onto it.

Every accepted batch of its tenants arrives here once storage holds it. Points at or
before a series' last seen timestamp are ignored, so a client retry (stored once, then
delivered again) is seen once by detection too. The detectors it will delegate to live in
``models/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from aiops.ingest.batch import PointBatch
from aiops.settings import Settings


@dataclass
class TenantState:
    last_ts_ms: dict[int, int] = field(default_factory=dict)  # series id -> newest point seen
    points_seen: int = 0


class WatchdogShard:
    def __init__(self, settings: Settings, index: int) -> None:
        self._settings = settings
        self._index = index
        self._tenants: dict[str, TenantState] = {}
        self._last_run: datetime | None = None

    def ingest(self, tenant_id: str, batch: PointBatch) -> int:
        """Take a stored batch; returns how many of its points were new to detection."""
        state = self._tenants.setdefault(tenant_id, TenantState())
        fresh = 0
        for series_id, timestamps, _ in batch.per_series():
            last = state.last_ts_ms.get(series_id)
            keep = timestamps > last if last is not None else np.ones(timestamps.size, dtype=bool)
            count = int(keep.sum())
            if count:
                state.last_ts_ms[series_id] = int(timestamps[keep].max())
                fresh += count
        state.points_seen += fresh
        self._last_run = datetime.now(UTC)
        return fresh

    def status(self) -> dict:
        """Liveness plus the figures ``GET /api/v1/status`` reports."""
        return {
            "shard": self._index,
            "state": "running",
            "last_run": self._last_run,
            "series_by_tenant": {tenant: len(state.last_ts_ms) for tenant, state in self._tenants.items()},
            "points_by_tenant": {tenant: state.points_seen for tenant, state in self._tenants.items()},
        }
