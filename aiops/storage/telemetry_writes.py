"""Exactly-once writes of span and log-record batches (shared by the span and log repositories).

A batch is identified by a digest of its request's content. Like metric batches, a digest
already in ``ingested_batches`` is not written again (a client retry), and the batch's
row there is what ``tenant_usage`` counts: spans and log records are the tenant's events
as points are. Concurrent batches of one table share one insert (group commit). Rows that
overlap between two different batches collapse at merge time, because each table's sort
key is the item's identity (``ReplacingMergeTree``; reads use ``FINAL``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import numpy as np
import pyarrow as pa

from aiops.storage.batch_ledger import BatchLedger
from aiops.storage.client import ClientPool
from aiops.storage.group_commit import GroupCommit

TELEMETRY_TABLES = ("spans", "logs")


def with_tenant(tenant_id: str, rows: pa.Table) -> pa.Table:
    """``rows`` with a leading ``tenant_id`` column (one dictionary entry, an index per row)."""
    tenant = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows.num_rows, np.int32)), pa.array([tenant_id]))
    return rows.add_column(0, "tenant_id", tenant)


class TelemetryWriter:
    """Writes span and log-record batches once each (one group commit per table)."""

    def __init__(self, pool: ClientPool, ledger: BatchLedger) -> None:
        self._pool = pool
        self._ledger = ledger
        self._commits = {table: GroupCommit(partial(self._write, table)) for table in TELEMETRY_TABLES}

    def store(self, table: str, tenant_id: str, rows: pa.Table, digest: str) -> bool:
        """Write ``rows`` of ``table`` once; False when this batch was stored before (a retry)."""
        if self._ledger.already_stored(tenant_id, digest):
            return False
        self._commits[table].submit((tenant_id, digest, rows))
        return True

    def _write(self, table: str, batches: list[tuple[str, str, pa.Table]]) -> None:
        unique: dict[tuple[str, str], pa.Table] = {}
        for tenant_id, digest, rows in batches:
            unique.setdefault((tenant_id, digest), rows)
        tables = [with_tenant(tenant_id, rows) for (tenant_id, _), rows in unique.items()]
        combined = tables[0] if len(tables) == 1 else pa.concat_tables(tables).unify_dictionaries().combine_chunks()
        now = datetime.now(UTC)
        with self._pool.borrow() as client:
            client.insert_arrow(table, combined, settings={"optimize_on_insert": 0})
            self._ledger.record(client, {key: rows.num_rows for key, rows in unique.items()}, now)
        self._ledger.remember(unique)
