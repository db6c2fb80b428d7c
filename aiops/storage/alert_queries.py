"""SQL of alerts: the alert intake (one Alertmanager payload checked and stored in one call) and reads.

:meth:`AlertRepository.record_alert_notices` takes every notice of a payload at once, so a
payload costs one round trip to storage and a handful of queries whatever its number of
alerts (it used to be two calls per alert). Nothing is written unless the whole payload
passes its checks.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from aiops.storage.anomaly_queries import ANOMALY_COLUMNS, AnomalyRepository, anomaly_from_row
from aiops.storage.client import ClientPool
from aiops.storage.rca_queries import RcaRepository
from aiops.storage.records import WAITED_FOR, AlertOutcome, AlertRecord, AnomalyRecord
from aiops.storage.sql import utc

_ALERT_COLUMNS = ("tenant_id", "fingerprint", "starts_at", "ends_at", "status", "alertname", "service_id", "labels",
                  "annotations", "generator_url", "anomaly_id", "linked_anomalies", "received_at", "key_id",
                  "updated_at")
LINKED_PER_ALERT = 20  # watchdog anomalies linked to one alert at most


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class AlertRepository:
    """``alerts``; storing a payload also writes its anomalies and requests their RCAs."""

    def __init__(self, pool: ClientPool, anomalies: AnomalyRepository, rca: RcaRepository) -> None:
        self._pool = pool
        self._anomalies = anomalies
        self._rca = rca

    def record_alert_notices(self, notices: list[AlertRecord], fresh: list[AnomalyRecord], link_window: timedelta,
                             at: datetime) -> AlertOutcome:
        """Check and store one payload's alert notices (``fresh[i]`` is the anomaly ``notices[i]``
        starts if its anomaly is new).

        Refused whole (nothing written) when a tenant does not exist, when a notice without a
        webhook key is for a tenant that has webhook keys, or when it is about an alert first
        sent with a key. Otherwise: each notice is stored with the watchdog anomalies of its
        service that started within ``link_window`` of it, its anomaly is created or updated
        (a resolved notice resolves it and nothing reopens it; ``last_seen_at`` only grows),
        and firing notices request an RCA someone waits on.
        """
        if not notices:
            return AlertOutcome()
        tenants = sorted({n.tenant_id for n in notices})
        with self._pool.borrow() as client:
            live = {row[0] for row in client.query(
                "SELECT tenant_id FROM tenants FINAL WHERE tenant_id IN {tenants:Array(String)} AND deleted = 0",
                parameters={"tenants": tenants}).result_rows}
            for index, notice in enumerate(notices):
                if notice.tenant_id not in live:
                    return AlertOutcome(refused=f"alerts[{index}]: tenant {notice.tenant_id!r} does not exist")
            unkeyed = sorted({n.tenant_id for n in notices if not n.key_id})
            if unkeyed:
                keyed_tenants = {row[0] for row in client.query(
                    "SELECT DISTINCT tenant_id FROM api_keys FINAL WHERE tenant_id IN {tenants:Array(String)} "
                    "AND scope = 'webhook' AND revoked_at IS NULL "
                    "AND (expires_at IS NULL OR expires_at > {at:DateTime64(3, 'UTC')})",
                    parameters={"tenants": unkeyed, "at": at}).result_rows}
                keyed_alerts = {(row[0], row[1]) for row in client.query(
                    "SELECT DISTINCT tenant_id, anomaly_id FROM alerts WHERE tenant_id IN {tenants:Array(String)} "
                    "AND fingerprint IN {fingerprints:Array(String)} AND key_id != ''",
                    parameters={"tenants": unkeyed,
                                "fingerprints": sorted({n.fingerprint for n in notices if not n.key_id})},
                ).result_rows}
                for index, notice in enumerate(notices):
                    if notice.key_id:
                        continue
                    if notice.tenant_id in keyed_tenants:
                        return AlertOutcome(needs_key=True, refused=(
                            f"alerts[{index}]: tenant {notice.tenant_id!r} has webhook keys, so its alerts must "
                            "come with one (Alertmanager's http_config.authorization)"))
                    if (notice.tenant_id, notice.anomaly_id) in keyed_alerts:
                        return AlertOutcome(needs_key=True, refused=(
                            f"alerts[{index}]: this alert was first sent with a webhook key; a {notice.status} "
                            "notice about it needs one too"))
            existing = {(a.tenant_id, a.anomaly_id): a for a in (anomaly_from_row(row) for row in client.query(
                f"SELECT {', '.join(ANOMALY_COLUMNS)} FROM anomalies FINAL "
                "WHERE tenant_id IN {tenants:Array(String)} AND anomaly_id IN {ids:Array(String)}",
                parameters={"tenants": tenants, "ids": sorted({n.anomaly_id for n in notices})}).result_rows)}
            linked = self._linked_watchdog_anomalies(client, notices, link_window)
        merged: dict[tuple[str, str], AnomalyRecord] = {}
        for notice, candidate in zip(notices, fresh, strict=True):
            key = (notice.tenant_id, notice.anomaly_id)
            anomaly = merged.get(key) or existing.get(key) or candidate
            firing = notice.status == "firing"
            seen = at if firing else (notice.ends_at or at)
            merged[key] = replace(anomaly, last_seen_at=max(anomaly.last_seen_at, seen),
                                  resolved=anomaly.resolved or not firing,
                                  rca_triggered=anomaly.rca_triggered or firing, updated_at=at)
        self.save_alerts([replace(n, linked_anomalies=ids) for n, ids in zip(notices, linked, strict=True)])
        self._anomalies.upsert_anomalies(list(merged.values()))
        wanting: dict[str, list[str]] = {}
        for notice in notices:
            if notice.status == "firing":
                wanting.setdefault(notice.tenant_id, []).append(notice.anomaly_id)
        for tenant_id, ids in wanting.items():
            self._rca.request_rcas(tenant_id, ids, at, WAITED_FOR)  # on-call waits on these
        return AlertOutcome(queued=[i for ids in wanting.values() for i in dict.fromkeys(ids)])

    def _linked_watchdog_anomalies(self, client: Client, notices: list[AlertRecord],
                                   window: timedelta) -> list[list[str]]:
        """Per notice: ids of the watchdog's anomalies of its service that started within
        ``window`` of its start, oldest first (one query for the whole payload)."""
        starts = [n.starts_at for n in notices]
        rows = client.query(
            "SELECT tenant_id, service_id, anomaly_id, toUnixTimestamp64Milli(detected_at) AS at "
            "FROM anomalies FINAL WHERE tenant_id IN {tenants:Array(String)} AND source = 'watchdog' "
            "AND service_id IN {services:Array(String)} "
            "AND detected_at BETWEEN {since:DateTime64(3, 'UTC')} AND {until:DateTime64(3, 'UTC')} "
            "AND arrayExists((t, s, a, b) -> t = tenant_id AND s = service_id AND at BETWEEN a AND b, "
            "{t:Array(String)}, {s:Array(String)}, {a:Array(Int64)}, {b:Array(Int64)}) "
            "ORDER BY at LIMIT {limit:UInt32}",
            parameters={
                "tenants": sorted({n.tenant_id for n in notices}),
                "services": sorted({n.service_id for n in notices}),
                "since": min(starts) - window, "until": max(starts) + window,
                "t": [n.tenant_id for n in notices], "s": [n.service_id for n in notices],
                "a": [_ms(n.starts_at - window) for n in notices], "b": [_ms(n.starts_at + window) for n in notices],
                "limit": LINKED_PER_ALERT * len(notices),
            }).result_rows
        by_service: dict[tuple[str, str], tuple[list[int], list[str]]] = {}
        for tenant_id, service_id, anomaly_id, started in rows:  # already in time order
            times, ids = by_service.setdefault((tenant_id, service_id), ([], []))
            times.append(int(started))
            ids.append(anomaly_id)
        linked = []
        for notice in notices:
            times, ids = by_service.get((notice.tenant_id, notice.service_id), ([], []))
            first = bisect.bisect_left(times, _ms(notice.starts_at - window))
            last = bisect.bisect_right(times, _ms(notice.starts_at + window))
            linked.append(list(dict.fromkeys(ids[first:last]))[:LINKED_PER_ALERT])
        return linked

    def save_alerts(self, alerts: list[AlertRecord]) -> None:
        now = datetime.now(UTC)
        rows = [[a.tenant_id, a.fingerprint, a.starts_at, a.ends_at, a.status, a.alertname, a.service_id, a.labels,
                 a.annotations, a.generator_url, a.anomaly_id, a.linked_anomalies, a.received_at, a.key_id, now]
                for a in alerts]
        if rows:
            with self._pool.borrow() as client:
                client.insert("alerts", rows, column_names=list(_ALERT_COLUMNS))

    def list_alerts(self, tenant_id: str, anomaly_id: str) -> list[AlertRecord]:
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(_ALERT_COLUMNS[:-1])} FROM alerts FINAL "
                "WHERE tenant_id = {tenant_id:String} AND anomaly_id = {anomaly_id:String} ORDER BY starts_at",
                parameters={"tenant_id": tenant_id, "anomaly_id": anomaly_id},
            ).result_rows
        return [AlertRecord(r[0], r[1], utc(r[2]), utc(r[3]) if r[3] else None, r[4], r[5], r[6], dict(r[7]),
                            dict(r[8]), r[9], r[10], list(r[11]), utc(r[12]), r[13]) for r in rows]

    def alert_ends(self, tenant_id: str, anomaly_ids: list[str]) -> dict[str, datetime]:
        """When each resolved alert ended (its ``endsAt``), by anomaly id: the anomaly's ``last_seen_at``
        also counts when notices arrived, which for a late or replayed alert is not when it ended."""
        if not anomaly_ids:
            return {}
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT anomaly_id, max(assumeNotNull(ends_at)) FROM alerts FINAL WHERE tenant_id = {tenant_id:String} "
                "AND anomaly_id IN {ids:Array(String)} AND status = 'resolved' AND ends_at IS NOT NULL "
                "GROUP BY anomaly_id", parameters={"tenant_id": tenant_id, "ids": anomaly_ids}).result_rows
        return {row[0]: utc(row[1]) for row in rows}
