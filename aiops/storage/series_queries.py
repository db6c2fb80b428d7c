"""Metric points out: a service's series over a window, a tenant's points since a moment, and the
metric frames root-cause analysis correlates (from the ``metric_minutes`` rollup when the step is
a whole number of minutes, from ``metric_points`` otherwise).

Parameterised; ``tenant_id`` in every predicate but ``tenants_with_points_since``, which reads
every tenant (which tenants' graphs a scheduled refresh recomputes); ``FINAL`` on ``metric_points`` (a
retried batch may sit twice before a merge). Writes are :class:`~aiops.storage.point_writer.PointWriter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from aiops.ingest.batch import PointBatch
from aiops.storage.client import ClientPool
from aiops.storage.records import StoredSeries
from aiops.storage.sql import utc


class SeriesRepository:
    """Reads of ``series``, ``metric_points`` and ``metric_minutes``."""

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

    def metric_frame(self, tenant_id: str, since: datetime, until: datetime, step_seconds: int,
                     max_series: int, leave_out: Sequence[str] = ()
                     ) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
        """Every service's metrics in ``[since, until)`` averaged per step (over label sets) in SQL,
        but those named in ``leave_out``.

        Returns long arrays ``(unix_seconds, service_ids, metric_names, values)``; at most
        ``max_series`` (service, metric) pairs, those with the most points first. Steps of whole
        minutes read the ``metric_minutes`` rollup (the minutes that start in the window), a
        few rows per minute instead of every point; other steps read the points.
        """
        parameters = {"tenant_id": tenant_id, "since": since, "until": until, "step": step_seconds,
                      "max_series": max_series, "leave_out": sorted(leave_out)}
        if step_seconds % 60 == 0:  # the rollup: a sum and a count per minute
            source = picked = "metric_minutes"
            clock, mean, weight = "minute", "sum(total) / sum(points)", "sum(points)"
        else:
            source, picked = "metric_points FINAL", "metric_points"
            clock, mean, weight = "ts", "avg(value)", "count()"
        window = f"{clock} >= {{since:DateTime64(3, 'UTC')}} AND {clock} < {{until:DateTime64(3, 'UTC')}}"
        sql = f"""
            SELECT service_id, metric_name,
                   toUnixTimestamp(toStartOfInterval({clock}, toIntervalSecond({{step:UInt32}}))) AS at, {mean} AS v
            FROM {source}
            WHERE tenant_id = {{tenant_id:String}} AND {window}
              AND (service_id, metric_name) IN (
                  SELECT service_id, metric_name FROM {picked}
                  WHERE tenant_id = {{tenant_id:String}} AND {window}
                    AND metric_name NOT IN {{leave_out:Array(String)}}
                  GROUP BY service_id, metric_name ORDER BY {weight} DESC, service_id, metric_name
                  LIMIT {{max_series:UInt32}})
            GROUP BY service_id, metric_name, at
            HAVING isFinite(v)"""
        with self._pool.borrow() as client:
            table = client.query_arrow(sql, parameters=parameters)
        return (table.column("at").to_numpy().astype(np.float64),
                [str(s) for s in table.column("service_id").to_pylist()],
                [str(m) for m in table.column("metric_name").to_pylist()],
                table.column("v").to_numpy().astype(np.float64))

    def newest_point_at(self, tenant_id: str) -> datetime | None:
        with self._pool.borrow() as client:
            rows = client.query("SELECT count(), max(ts) FROM metric_points WHERE tenant_id = {tenant_id:String}",
                                parameters={"tenant_id": tenant_id}).result_rows
        return utc(rows[0][1]) if rows and rows[0][0] else None

    def service_known(self, tenant_id: str, service_id: str) -> bool:
        """Whether the tenant ever sent a series of this service."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT 1 FROM series WHERE tenant_id = {tenant_id:String} "
                "AND service_id = {service_id:String} LIMIT 1",
                parameters={"tenant_id": tenant_id, "service_id": service_id},
            ).result_rows
        return bool(rows)

    def tenants_with_points_since(self, since: datetime) -> list[str]:
        """Tenants that sent points since ``since`` (across tenants: for scheduled graph refreshes)."""
        with self._pool.borrow() as client:
            return [row[0] for row in client.query(
                "SELECT DISTINCT tenant_id FROM metric_points WHERE ts >= {since:DateTime64(3, 'UTC')}",
                parameters={"since": since},
            ).result_rows]
