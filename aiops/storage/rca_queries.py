"""SQL of root-cause analysis: the durable RCA queue and results, correlation graphs, topology.

The metric frames an analysis reads are :class:`~aiops.storage.series_queries.SeriesRepository`'s.

Same rules as every repository of :mod:`aiops.storage`: parameterised queries, a
``tenant_id`` predicate on every tenant-owned table, ``FINAL`` on replacing tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiops.storage.client import ClientPool
from aiops.storage.records import GraphSnapshot, RcaRecord
from aiops.storage.sql import utc
from models.telemetry.graph import LEARNED, Edge

_RCA_COLUMNS = ("tenant_id", "anomaly_id", "status", "ranker", "root_causes", "blast_radius", "similar_incidents",
                "summary", "error", "requested_at", "updated_at", "attempts", "worker", "priority", "error_code",
                "summary_by")
_EDGE_COLUMNS = ("tenant_id", "source_service", "target_service", "kind", "correlation_score", "lag_minutes",
                 "direction", "metrics", "computed_at")


class RcaRepository:
    """``rca_results`` (the durable queue and its results), ``correlation_edges`` and topology."""

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool

    # -- the queue and the results ---------------------------------------------------------
    def _rca(self, row: Sequence[Any]) -> RcaRecord:
        return RcaRecord(
            tenant_id=row[0], anomaly_id=row[1], status=row[2], ranker=row[3], root_causes=json.loads(row[4] or "[]"),
            blast_radius=json.loads(row[5] or "[]"), similar_incidents=json.loads(row[6] or "[]"), summary=row[7],
            error=row[8], requested_at=utc(row[9]), updated_at=utc(row[10]), attempts=int(row[11]),
            worker=int(row[12]), priority=int(row[13]), error_code=row[14], summary_by=row[15],
        )

    def request_rcas(self, tenant_id: str, anomaly_ids: list[str], at: datetime, priority: int = 0) -> int:
        """Queue a root-cause analysis for each anomaly that has none yet; returns how many.

        ``priority`` :data:`WAITED_FOR` puts them ahead of the watchdog's own requests."""
        if not anomaly_ids:
            return 0
        with self._pool.borrow() as client:
            existing = {row[0] for row in client.query(
                "SELECT DISTINCT anomaly_id FROM rca_results WHERE tenant_id = {tenant_id:String} "
                "AND anomaly_id IN {ids:Array(String)}", parameters={"tenant_id": tenant_id, "ids": anomaly_ids},
            ).result_rows}
            new = [i for i in dict.fromkeys(anomaly_ids) if i not in existing]
            if new:
                client.insert("rca_results", [[tenant_id, i, "pending", "", "[]", "[]", "[]", "", "", at, at,
                                               priority] for i in new],
                              column_names=["tenant_id", "anomaly_id", "status", "ranker", "root_causes",
                                            "blast_radius", "similar_incidents", "summary", "error",
                                            "requested_at", "updated_at", "priority"])
        return len(new)

    def save_rca(self, record: RcaRecord) -> None:
        """Write a new version of an RCA row (the latest ``updated_at`` wins)."""
        row = [record.tenant_id, record.anomaly_id, record.status, record.ranker, json.dumps(record.root_causes),
               json.dumps(record.blast_radius), json.dumps(record.similar_incidents), record.summary, record.error,
               record.requested_at, record.updated_at, record.attempts, record.worker, record.priority,
               record.error_code, record.summary_by]
        with self._pool.borrow() as client:
            client.insert("rca_results", [row], column_names=list(_RCA_COLUMNS))

    def get_rca(self, tenant_id: str, anomaly_id: str) -> RcaRecord | None:
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(_RCA_COLUMNS)} FROM rca_results FINAL "
                "WHERE tenant_id = {tenant_id:String} AND anomaly_id = {anomaly_id:String}",
                parameters={"tenant_id": tenant_id, "anomaly_id": anomaly_id},
            ).result_rows
        return self._rca(rows[0]) if rows else None

    def rca_queue_all_tenants(self, limit: int) -> list[RcaRecord]:
        """Requests not yet done or failed across tenants (for the RCA pool): those someone waits
        for first; within a priority, tenants take turns (each tenant's oldest, then each one's
        second oldest, ...), so one tenant's thousand alerts do not queue ahead of everyone else."""
        columns = ", ".join(_RCA_COLUMNS)
        with self._pool.borrow() as client:
            rows = client.query(
                f"""SELECT {columns} FROM (
                        SELECT {columns}, row_number() OVER (
                            PARTITION BY tenant_id, priority ORDER BY requested_at, anomaly_id) AS turn
                        FROM rca_results FINAL WHERE status IN ('pending', 'running'))
                    ORDER BY priority DESC, turn, requested_at, tenant_id LIMIT {{limit:UInt32}}""",
                parameters={"limit": limit},
            ).result_rows
        return [self._rca(row) for row in rows]

    # -- correlation graphs ----------------------------------------------------------------
    def save_graph(self, tenant_id: str, services: list[str], edges: list[Edge], computed_at: datetime,
                   window: tuple[datetime, datetime]) -> None:
        """Store one learned graph; it replaces the previous one as the tenant's current graph."""
        rows = [[tenant_id, e.source, e.target, e.kind, e.correlation_score, e.lag_minutes,
                 "downstream", list(e.metrics), computed_at] for e in edges if e.kind == LEARNED]
        with self._pool.borrow() as client:
            if rows:
                client.insert("correlation_edges", rows, column_names=list(_EDGE_COLUMNS))
            # Written last: readers only follow a snapshot whose edges are all stored.
            client.insert("graph_snapshots", [[tenant_id, computed_at, sorted(services), window[0], window[1]]],
                          column_names=["tenant_id", "computed_at", "services", "window_start", "window_end"])

    def load_graph(self, tenant_id: str) -> GraphSnapshot | None:
        """The tenant's current learned graph (None if never computed)."""
        with self._pool.borrow() as client:
            snapshot = client.query(
                "SELECT computed_at, services FROM graph_snapshots FINAL WHERE tenant_id = {tenant_id:String}",
                parameters={"tenant_id": tenant_id},
            ).result_rows
            if not snapshot:
                return None
            computed_at = snapshot[0][0]
            rows = client.query(
                "SELECT source_service, target_service, kind, correlation_score, lag_minutes, metrics "
                "FROM correlation_edges WHERE tenant_id = {tenant_id:String} "
                "AND computed_at = {computed_at:DateTime64(3, 'UTC')}",
                parameters={"tenant_id": tenant_id, "computed_at": utc(computed_at)},
            ).result_rows
        edges = [Edge(r[0], r[1], r[2], float(r[3]), int(r[4]), tuple(r[5])) for r in rows]
        return GraphSnapshot(tenant_id, utc(computed_at), list(snapshot[0][1]), edges)

    # -- declared topology -----------------------------------------------------------------
    def save_topology(self, tenant_id: str, calls: list[tuple[str, str]], declared_by: str, at: datetime) -> None:
        with self._pool.borrow() as client:
            client.insert("topology", [[tenant_id, json.dumps(calls), declared_by, at]],
                          column_names=["tenant_id", "edges", "declared_by", "declared_at"])

    def load_topology(self, tenant_id: str) -> tuple[list[tuple[str, str]], str, datetime] | None:
        """``(calls, declared_by, declared_at)``: the tenant's declared caller -> callee edges."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT edges, declared_by, declared_at FROM topology FINAL WHERE tenant_id = {tenant_id:String}",
                parameters={"tenant_id": tenant_id},
            ).result_rows
        if not rows:
            return None
        return [tuple(pair) for pair in json.loads(rows[0][0])], rows[0][1], utc(rows[0][2])
