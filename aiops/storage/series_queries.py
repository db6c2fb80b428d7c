"""Metric points out: a service's series over a window, and a tenant's points since a moment.

Parameterised; ``tenant_id`` in every predicate; ``FINAL`` on ``metric_points`` (a retried
batch may sit twice before a merge). Writes are :class:`~aiops.storage.point_writer.PointWriter`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from aiops.ingest.batch import PointBatch
from aiops.storage.client import ClientPool
from aiops.storage.records import StoredSeries


class SeriesRepository:
    """Reads of ``series`` and ``metric_points``."""

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool

    def read_series(self, tenant_id: str, service_id: str, metric_name: str | None, since: datetime,
                    until: datetime, step_seconds: int | None, max_points: int) -> list[StoredSeries] | None:
        """Points of a service's series in ``[since, until)``, raw or averaged per ``step_seconds``.

        Returns None when more than ``max_points`` would come back.
        """
        parameters: dict[str, Any] = {"tenant_id": tenant_id, "service_id": service_id, "since": since, "until": until,
                            "limit": max_points + 1}
        predicate = "tenant_id = {tenant_id:String} AND service_id = {service_id:String}"
        if metric_name is not None:
            predicate += " AND metric_name = {metric_name:String}"
            parameters["metric_name"] = metric_name
        window = "ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')}"
        if step_seconds:
            parameters["step"] = step_seconds
            sql = f"""SELECT series_id, toUnixTimestamp(toStartOfInterval(ts, toIntervalSecond({{step:UInt32}})))
                             AS at, avg(value)
                      FROM metric_points FINAL WHERE {predicate} AND {window}
                      GROUP BY series_id, at ORDER BY series_id, at LIMIT {{limit:UInt32}}"""
        else:
            sql = f"""SELECT series_id, toUnixTimestamp64Milli(ts) / 1000.0 AS at, value
                      FROM metric_points FINAL WHERE {predicate} AND {window}
                      ORDER BY series_id, ts LIMIT {{limit:UInt32}}"""
        with self._pool.borrow() as client:
            table = client.query_arrow(sql, parameters=parameters)
            if table.num_rows > max_points:
                return None
            meta = client.query(
                f"SELECT series_id, any(metric_name), any(labels) FROM series WHERE {predicate} GROUP BY series_id",
                parameters=parameters,
            ).result_rows
        ids = table.column(0).to_numpy()
        # One conversion of every (at, value) pair, then slices per series: no per-point Python work.
        pairs = np.column_stack((table.column(1).to_numpy().astype(np.float64),
                                 table.column(2).to_numpy().astype(np.float64))).tolist()
        bounds = np.flatnonzero(np.diff(ids)) + 1
        starts = np.concatenate(([0], bounds)).tolist() if ids.size else []
        ends = np.concatenate((bounds, [ids.size])).tolist() if ids.size else []
        labels_of = {int(row[0]): (row[1], dict(row[2])) for row in meta}
        result = []
        for start, end in zip(starts, ends, strict=True):
            identity = int(ids[start])
            metric, labels = labels_of.get(identity, (metric_name or "", {}))
            result.append(StoredSeries(identity, service_id, metric, labels, pairs[start:end]))
        return sorted(result, key=lambda found: (found.metric_name, sorted(found.labels.items())))

    def points_since(self, tenant_id: str, since: datetime, limit: int) -> PointBatch | None:
        """A tenant's stored points after ``since`` (at most ``limit``, oldest first) as a batch,
        for a watchdog shard to catch up from after a restart or a model swap."""
        with self._pool.borrow() as client:
            table = client.query_arrow(
                "SELECT series_id, toUnixTimestamp64Milli(ts) AS ts_ms, value FROM metric_points FINAL "
                "WHERE tenant_id = {tenant_id:String} AND ts > {since:DateTime64(3, 'UTC')} "
                "ORDER BY ts LIMIT {limit:UInt32}",
                parameters={"tenant_id": tenant_id, "since": since, "limit": limit},
            )
            if table.num_rows == 0:
                return None
            ids = table.column("series_id").to_numpy().astype(np.uint64)
            unique, index = np.unique(ids, return_inverse=True)
            meta = {int(row[0]): (row[1], row[2], dict(row[3])) for row in client.query(
                "SELECT series_id, any(service_id), any(metric_name), any(labels) FROM series "
                "WHERE tenant_id = {tenant_id:String} AND series_id IN {ids:Array(UInt64)} GROUP BY series_id",
                parameters={"tenant_id": tenant_id, "ids": [int(i) for i in unique]},
            ).result_rows}
        known = [meta.get(int(i), ("", "", {})) for i in unique]
        return PointBatch(
            service_ids=[m[0] for m in known], metric_names=[m[1] for m in known], labels=[m[2] for m in known],
            series_ids=unique, series_index=index.astype(np.int32),
            timestamps_ms=table.column("ts_ms").to_numpy().astype(np.int64),
            values=table.column("value").to_numpy().astype(np.float64),
        )
