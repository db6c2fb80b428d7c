"""SQL of the telemetry rollup's bookkeeping: which minutes hold spans or logs, which are done.

``telemetry_minutes`` is filled by materialized views as spans and log records are
inserted; ``telemetry_rollups`` records each (tenant, signal, minute) once rolled up.
"""

from __future__ import annotations

from datetime import datetime

from aiops.storage.client import ClientPool
from aiops.storage.sql import utc


class RollupRepository:
    """``telemetry_minutes`` (read) and ``telemetry_rollups``."""

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool

    def telemetry_minutes_pending_all_tenants(self, since: datetime, until: datetime, quiet_since: datetime,
                                              limit: int) -> list[tuple[str, str, datetime]]:
        """``(tenant_id, signal, minute)`` with spans or logs in ``[since, until]`` whose last row arrived
        before ``quiet_since``, not yet rolled up, oldest minute first (across tenants: the rollup
        workers pick their own)."""
        with self._pool.borrow() as client:
            rows = client.query(
                """SELECT tenant_id, toString(signal), minute FROM telemetry_minutes
                   WHERE minute >= {since:DateTime('UTC')} AND minute <= {until:DateTime('UTC')}
                     AND (tenant_id, signal, minute) NOT IN (
                         SELECT tenant_id, signal, minute FROM telemetry_rollups
                         WHERE minute >= {since:DateTime('UTC')} AND minute <= {until:DateTime('UTC')})
                   GROUP BY tenant_id, signal, minute
                   HAVING max(last_arrival) < {quiet_since:DateTime64(3, 'UTC')}
                   ORDER BY minute, tenant_id, signal LIMIT {limit:UInt32}""",
                parameters={"since": since, "until": until, "quiet_since": quiet_since, "limit": limit},
            ).result_rows
        return [(r[0], r[1], utc(r[2])) for r in rows]

    def mark_rolled_up(self, tenant_id: str, signal: str, minute: datetime, at: datetime) -> None:
        with self._pool.borrow() as client:
            client.insert("telemetry_rollups", [[tenant_id, signal, minute, at]],
                          column_names=["tenant_id", "signal", "minute", "rolled_at"])
