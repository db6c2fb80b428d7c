"""Exactly-once writes of span and log-record batches (shared by the span and log queries).

A batch is identified by a digest of its request's content. Like metric batches, a digest
already in ``ingested_batches`` is not written again (a client retry), and the batch's
row there is what ``tenant_usage`` counts: spans and log records are the tenant's events
as points are. Concurrent batches of one table share one insert (group commit). Rows that
overlap between two different batches collapse at merge time, because each table's sort
key is the item's identity (``ReplacingMergeTree``; reads use ``FINAL``).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from functools import partial

import numpy as np
import pyarrow as pa

from aiops.storage.group_commit import GroupCommit

TELEMETRY_TABLES = ("spans", "logs")


def with_tenant(tenant_id: str, rows: pa.Table) -> pa.Table:
    """``rows`` with a leading ``tenant_id`` column (one dictionary entry, an index per row)."""
    tenant = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows.num_rows, np.int32)), pa.array([tenant_id]))
    return rows.add_column(0, "tenant_id", tenant)


class TelemetryWrites:
    """Mixin of :class:`~aiops.storage.store.Store`; needs its pool and batch memory."""

    _pool: object
    _recent_lock: threading.Lock
    _recent_batches: object
    RECENT_BATCHES_CAP: int

    def _init_telemetry(self) -> None:
        self._telemetry_commits = {table: GroupCommit(partial(self._write_telemetry, table))
                                   for table in TELEMETRY_TABLES}

    def _store_telemetry(self, table: str, tenant_id: str, rows: pa.Table, digest: str) -> bool:
        """Write ``rows`` of ``table`` once; False when this batch was stored before (a retry)."""
        if self._already_stored(tenant_id, digest):
            return False
        self._telemetry_commits[table].submit((tenant_id, digest, rows))
        return True

    def _write_telemetry(self, table: str, batches: list[tuple[str, str, pa.Table]]) -> None:
        unique: dict[tuple[str, str], pa.Table] = {}
        for tenant_id, digest, rows in batches:
            unique.setdefault((tenant_id, digest), rows)
        tables = [with_tenant(tenant_id, rows) for (tenant_id, _), rows in unique.items()]
        combined = tables[0] if len(tables) == 1 else pa.concat_tables(tables).unify_dictionaries().combine_chunks()
        now = datetime.now(UTC)
        with self._pool.borrow() as client:
            client.insert_arrow(table, combined, settings={"optimize_on_insert": 0})
            client.insert_arrow("ingested_batches", pa.table({
                "tenant_id": pa.array([tenant for tenant, _ in unique], pa.string()),
                "digest": pa.array([digest for _, digest in unique], pa.string()),
                "points": pa.array([rows.num_rows for rows in unique.values()], pa.uint32()),
                "ingested_at": pa.array([now] * len(unique), pa.timestamp("ms", tz="UTC")),
            }))
        with self._recent_lock:
            for key in unique:
                self._recent_batches[key] = None
            while len(self._recent_batches) > self.RECENT_BATCHES_CAP:
                self._recent_batches.popitem(last=False)
