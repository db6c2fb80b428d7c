"""Anomalies: the watchdog's and Alertmanager's, written as new versions, read by page and by
the time they changed.

``anomalies`` is a ``ReplacingMergeTree`` (the latest ``updated_at`` wins; reads use ``FINAL``);
every predicate names ``tenant_id`` except :meth:`AnomalyRepository.count_anomalies_since`
with no tenant (every tenant's count, for the engine's own metrics) and
:meth:`AnomalyRepository.anomalies_changed_since` (every tenant's: the incident manager groups
them all).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiops.storage.client import ClientPool
from aiops.storage.records import AnomalyPage, AnomalyRecord
from aiops.storage.sql import MS, utc

ANOMALY_COLUMNS = (
    "tenant_id", "anomaly_id", "service_id", "metric_name", "series_id", "labels", "source", "model",
    "anomaly_score", "z_score", "detected_at", "last_seen_at", "rca_triggered", "resolved", "feedback",
    "updated_at",
)


def anomaly_from_row(row: Sequence[Any]) -> AnomalyRecord:
    """An :class:`AnomalyRecord` from a row of :data:`ANOMALY_COLUMNS`."""
    return AnomalyRecord(
        tenant_id=row[0], anomaly_id=row[1], service_id=row[2], metric_name=row[3], series_id=int(row[4]),
        labels=dict(row[5]), source=row[6], model=row[7], anomaly_score=float(row[8]), z_score=float(row[9]),
        detected_at=utc(row[10]), last_seen_at=utc(row[11]), rca_triggered=bool(row[12]),
        resolved=bool(row[13]), feedback=row[14], updated_at=utc(row[15]),
    )


class AnomalyRepository:
    """Reads and writes of ``anomalies``."""

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool

    def upsert_anomalies(self, anomalies: list[AnomalyRecord]) -> None:
        """Write new anomalies or new versions of existing ones (the latest ``updated_at`` wins)."""
        if not anomalies:
            return
        now = datetime.now(UTC)
        rows = [[a.tenant_id, a.anomaly_id, a.service_id, a.metric_name, a.series_id, a.labels, a.source, a.model,
                 a.anomaly_score, a.z_score, a.detected_at, a.last_seen_at, int(a.rca_triggered), int(a.resolved),
                 a.feedback, a.updated_at or now] for a in anomalies]
        with self._pool.borrow() as client:
            client.insert("anomalies", rows, column_names=list(ANOMALY_COLUMNS))

    def get_anomaly(self, tenant_id: str, anomaly_id: str) -> AnomalyRecord | None:
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(ANOMALY_COLUMNS)} FROM anomalies FINAL "
                "WHERE tenant_id = {tenant_id:String} AND anomaly_id = {anomaly_id:String}",
                parameters={"tenant_id": tenant_id, "anomaly_id": anomaly_id},
            ).result_rows
        return anomaly_from_row(rows[0]) if rows else None

    def list_anomalies(self, tenant_id: str, *, service_id: str | None = None, since: datetime | None = None,
                       until: datetime | None = None, min_score: float | None = None, limit: int = 50,
                       after: tuple[datetime, str] | None = None) -> AnomalyPage:
        """Newest first, ``limit`` at a time; ``after`` is the keyset position a page ended at."""
        predicate = ["tenant_id = {tenant_id:String}"]
        parameters: dict[str, Any] = {"tenant_id": tenant_id, "limit": limit + 1}
        if service_id is not None:
            predicate.append("service_id = {service_id:String}")
            parameters["service_id"] = service_id
        if since is not None:
            predicate.append("detected_at >= {since:DateTime64(3, 'UTC')}")
            parameters["since"] = since
        if until is not None:
            predicate.append("detected_at < {until:DateTime64(3, 'UTC')}")
            parameters["until"] = until
        if min_score is not None:
            predicate.append("anomaly_score >= {min_score:Float64}")
            parameters["min_score"] = min_score
        where = " AND ".join(predicate)
        page_where = where
        if after is not None:
            page_where += (" AND (detected_at, anomaly_id) < "
                           "({after_at:DateTime64(3, 'UTC')}, {after_id:String})")
            parameters["after_at"], parameters["after_id"] = after
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(ANOMALY_COLUMNS)} FROM anomalies FINAL WHERE {page_where} "
                "ORDER BY detected_at DESC, anomaly_id DESC LIMIT {limit:UInt32}",
                parameters=parameters,
            ).result_rows
            total = int(client.query(f"SELECT count() FROM anomalies FINAL WHERE {where}",
                                     parameters=parameters).result_rows[0][0])
        records = [anomaly_from_row(row) for row in rows[:limit]]
        more = len(rows) > limit
        return AnomalyPage(records, total, (records[-1].detected_at, records[-1].anomaly_id) if more else None)

    def count_anomalies_since(self, since: datetime, tenant_id: str | None) -> int:
        """Anomalies detected since ``since``: one tenant's, or every tenant's when None."""
        predicate = "detected_at >= {since:DateTime64(3, 'UTC')}"
        parameters: dict[str, Any] = {"since": since}
        if tenant_id is not None:
            predicate = "tenant_id = {tenant_id:String} AND " + predicate
            parameters["tenant_id"] = tenant_id
        with self._pool.borrow() as client:
            return int(
                client.query(f"SELECT count() FROM anomalies FINAL WHERE {predicate}", parameters=parameters)
                .result_rows[0][0]
            )

    def anomalies_changed_since(self, since: datetime, limit: int) -> list[AnomalyRecord]:
        """Anomalies of every tenant whose newest version was written at or after ``since``, oldest write first
        (then earliest start: rows written in one millisecond)."""
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(ANOMALY_COLUMNS)} FROM anomalies FINAL "
                f"WHERE updated_at >= {{since:{MS}}} ORDER BY updated_at, detected_at, tenant_id, anomaly_id "
                "LIMIT {limit:UInt32}",
                parameters={"since": since, "limit": limit}).result_rows
        return [anomaly_from_row(row) for row in rows]
