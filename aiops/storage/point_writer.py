"""Metric points in: each batch stored exactly once, within its tenant's series limit.

Holds what ingest keeps between batches: the series ids known to exist per tenant (a bounded
LRU, so most batches skip the lookup), the first-write guard (:mod:`aiops.storage.first_write`:
a stored point is never changed) and the group commit that shares one insert among
concurrent batches. Reads of points are :class:`~aiops.storage.series_queries.SeriesRepository`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from aiops.storage.batch_ledger import BatchLedger
from aiops.storage.client import ClientPool
from aiops.storage.first_write import FirstWriteGuard, Points, matching
from aiops.storage.group_commit import GroupCommit
from aiops.storage.records import IngestOutcome


class PointWriter:
    """Writes metric point batches (``metric_points``, new ``series``, ``ingested_batches``)."""

    KNOWN_SERIES_CAP = 2_000_000  # ids cached across all tenants
    STAMPS_IN_QUERY = 10_000  # distinct timestamps looked up by value; more: by time range

    def __init__(self, pool: ClientPool, ledger: BatchLedger, *, only_writer: bool) -> None:
        self._pool = pool
        self._ledger = ledger
        self._known_series: OrderedDict[str, set[int]] = OrderedDict()
        self._known_series_count = 0
        self._known_series_lock = threading.Lock()
        self._series_locks: dict[str, threading.Lock] = {}
        self._commit = GroupCommit(self._write_batches)
        self._first_write = FirstWriteGuard(only_writer=only_writer, max_series=self.KNOWN_SERIES_CAP)

    def _series_lock(self, tenant_id: str) -> threading.Lock:
        with self._known_series_lock:
            return self._series_locks.setdefault(tenant_id, threading.Lock())

    def _remember_series(self, tenant_id: str, ids: set[int]) -> set[int]:
        with self._known_series_lock:
            known = self._known_series.setdefault(tenant_id, set())
            before = len(known)
            known |= ids
            self._known_series_count += len(known) - before
            self._known_series.move_to_end(tenant_id)
            while self._known_series_count > self.KNOWN_SERIES_CAP and len(self._known_series) > 1:
                _, evicted = self._known_series.popitem(last=False)
                self._known_series_count -= len(evicted)
            return known

    def ingest_batch(self, tenant_id: str, points: pa.Table, series: pa.Table, digest: str,
                     max_series: int, counted: bool = True, keep_stored: bool = False) -> IngestOutcome:
        """Store one batch exactly once: new series (within ``max_series``), then its points.

        ``digest`` identifies the batch's content; a batch already stored is not written
        again (and counts towards the tenant's monthly usage once; not at all when
        ``counted`` is false: series the engine derives itself, such as span health).
        Concurrent batches share one insert. A stored point is never changed
        (:mod:`aiops.storage.first_write`): points already stored with the same value are not
        written again, and a batch giving one another value is refused; with ``keep_stored``
        (OTLP, where refusing a batch drops it whole, and the engine's own rollups) only those
        points are left out, the stored values kept, and the outcome counts and names them.
        Over the series limit or refused, nothing is written.
        """
        if self._ledger.already_stored(tenant_id, digest):
            return IngestOutcome(points.num_rows, 0)
        batch_ids = series.column("series_id").to_numpy()
        incoming = Points(points.column("series_id").to_numpy().astype(np.uint64),
                          points.column("ts").cast(pa.int64()).to_numpy(),
                          points.column("value").to_numpy().astype(np.float64))
        with self._series_lock(tenant_id):
            with self._known_series_lock:
                cached = self._known_series.get(tenant_id, set())
                unknown = [int(i) for i in batch_ids if int(i) not in cached]
            new: list[int] = []
            with self._pool.borrow() as client:
                if unknown:
                    found = {int(row[0]) for row in client.query(
                        "SELECT DISTINCT series_id FROM series WHERE tenant_id = {tenant_id:String} "
                        "AND series_id IN {ids:Array(UInt64)}",
                        parameters={"tenant_id": tenant_id, "ids": unknown},
                    ).result_rows}
                    self._remember_series(tenant_id, found)
                    new = [i for i in unknown if i not in found]
                    if new:
                        existing = int(client.query(
                            "SELECT uniqExact(series_id) FROM series WHERE tenant_id = {tenant_id:String}",
                            parameters={"tenant_id": tenant_id},
                        ).result_rows[0][0])
                        if existing + len(new) > max_series:
                            return IngestOutcome(0, 0, f"the batch adds {len(new)} series to {existing}; "
                                                       f"the plan allows {max_series}")
                self._first_write.learn_newest(tenant_id, dict.fromkeys(new, -1))  # nothing stored yet
                cold = [i for i in self._first_write.unknown_newest(tenant_id, incoming.series_ids)
                        if i not in set(new)]
                if cold:
                    self._first_write.learn_newest(tenant_id, self._newest_stored(client, tenant_id, cold))
                keep, conflict, changed = self._first_writes(client, tenant_id, incoming, points, keep_stored)
                if conflict:
                    return IngestOutcome(0, 0, conflict=conflict)
                if new:
                    rows = np.flatnonzero(np.isin(batch_ids, np.array(new, dtype=np.uint64)))
                    client.insert_arrow("series", series.take(pa.array(rows)))
            self._remember_series(tenant_id, set(new))
            if keep is not None:
                incoming, points = incoming.take(keep), points.take(pa.array(keep))
            ticket = self._first_write.begin(tenant_id, incoming)
        try:
            self._commit.submit((tenant_id, digest, points, counted))
        finally:
            self._first_write.end(tenant_id, ticket)
        if changed is not None:
            return IngestOutcome(points.num_rows, len(new), changed_points=changed[0], change=changed[1])
        return IngestOutcome(points.num_rows, len(new))

    def _newest_stored(self, client: Client, tenant_id: str, series_ids: list[int]) -> dict[int, int]:
        """``series id -> newest stored ms`` (-1 for a series with no stored point)."""
        rows = client.query(
            "SELECT series_id, toUnixTimestamp64Milli(max(ts)) FROM metric_points "
            "WHERE tenant_id = {tenant_id:String} AND series_id IN {ids:Array(UInt64)} GROUP BY series_id",
            parameters={"tenant_id": tenant_id, "ids": series_ids},
        ).result_rows
        return {**dict.fromkeys(series_ids, -1), **{int(row[0]): int(row[1]) for row in rows}}

    def _first_writes(self, client: Client, tenant_id: str, incoming: Points, points: pa.Table,
                      keep_stored: bool = False) -> tuple[np.ndarray | None, str | None, tuple[np.ndarray, str] | None]:
        """Positions of the batch's points to write (None: all), or why the batch is refused:
        points that may exist are looked up in storage and among the batches in flight. With
        ``keep_stored`` a point that would change a stored one is left out instead, and the
        third item gives the positions left out so and the first of them in words."""
        maybe = np.flatnonzero(self._first_write.maybe_stored(tenant_id, incoming))
        if maybe.size == 0:
            return None, None, None
        candidates = incoming.take(maybe)
        stamps = np.unique(candidates.timestamps_ms)
        parameters = {"tenant_id": tenant_id, "ids": [int(i) for i in np.unique(candidates.series_ids)],
                      "low": int(stamps[0]), "high": int(stamps[-1])}
        exact = ""
        if stamps.size <= self.STAMPS_IN_QUERY:  # else the time range alone (a long backfill), matched below
            exact, parameters["stamps"] = " AND toUnixTimestamp64Milli(ts) IN {stamps:Array(Int64)}", stamps.tolist()
        rows = client.query_arrow(
            "SELECT series_id, toUnixTimestamp64Milli(ts) AS ms, value FROM metric_points FINAL "
            "WHERE tenant_id = {tenant_id:String} AND series_id IN {ids:Array(UInt64)} "
            "AND ts BETWEEN fromUnixTimestamp64Milli({low:Int64}, 'UTC') "
            "AND fromUnixTimestamp64Milli({high:Int64}, 'UTC')" + exact,
            parameters=parameters,
        )
        stored = Points(rows.column("series_id").to_numpy().astype(np.uint64),
                        rows.column("ms").to_numpy().astype(np.int64), rows.column("value").to_numpy())
        repeated = np.zeros(incoming.size, dtype=bool)
        changed = np.zeros(incoming.size, dtype=bool)
        change = ""
        for theirs, whose in [(stored, "stored"), *((p, "being stored") for p in self._first_write.in_flight(
                tenant_id))]:
            mine, twin = matching(candidates, theirs)
            differ = candidates.values[mine] != theirs.values[twin]
            if differ.any() and not change:
                first = int(np.flatnonzero(differ)[0])
                at = int(maybe[mine[first]])
                moment = datetime.fromtimestamp(candidates.timestamps_ms[mine[first]] / 1000, UTC)
                named = (f"{points.column('service_id')[at].as_py()}/{points.column('metric_name')[at].as_py()} "
                         f"(series {int(candidates.series_ids[mine[first]])})")
                change = (f"{named} at {moment.isoformat().replace('+00:00', 'Z')}: value "
                          f"{candidates.values[mine[first]]:g} differs from the {whose} "
                          f"{theirs.values[twin[first]]:g}; a stored point is never changed")
                if not keep_stored:
                    return None, change, None
            changed[maybe[mine[differ]]] = True
            repeated[maybe[mine]] = True
        left_out = (np.flatnonzero(changed), change) if changed.any() else None
        return (np.flatnonzero(~repeated), None, left_out) if repeated.any() else (None, None, None)

    def _write_batches(self, batches: list[tuple[str, str, pa.Table, bool]]) -> None:
        """One insert of every queued batch's points, then their ``ingested_batches`` rows.

        A crash between the two leaves points without their batch row: the retry writes
        them again (``ReplacingMergeTree`` keeps one copy) and usage counts them once.
        """
        unique: dict[tuple[str, str], pa.Table] = {}
        events: dict[tuple[str, str], int] = {}
        for tenant_id, digest, points, counted in batches:
            unique.setdefault((tenant_id, digest), points)
            events.setdefault((tenant_id, digest), points.num_rows if counted else 0)
        tables = [table for table in unique.values() if table.num_rows]
        now = datetime.now(UTC)
        with self._pool.borrow() as client:
            if tables:  # a batch of points all stored before has none left to write
                combined = (tables[0] if len(tables) == 1
                            else pa.concat_tables(tables).unify_dictionaries().combine_chunks())
                # No insert-time dedupe pass: reads use FINAL and merges keep one copy anyway (~25 % cheaper).
                client.insert_arrow("metric_points", combined, settings={"optimize_on_insert": 0})
            self._ledger.record(client, events, now)
        self._ledger.remember(unique)
