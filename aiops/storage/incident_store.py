"""SQL of incidents: their snapshots and the cursor of the signals (anomalies) grouping has read.

Every query names its tenant (except the cross-tenant reads of the incident manager, which owns
grouping for all tenants) and every value is a bound parameter. A snapshot row holds the whole
incident as JSON (:mod:`aiops.incident.codec`) plus the columns the list filters on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson

from aiops.incident.codec import incident_from_dict, incident_to_dict
from aiops.incident.model import Incident, IncidentStatus
from aiops.storage.client import ClientPool
from aiops.storage.sql import MS as _TS
from aiops.storage.sql import utc as _utc


@dataclass(frozen=True)
class IncidentPage:
    incidents: list[Incident]
    total: int
    next_after: tuple[datetime, str] | None  # (opened_at, incident_id) of the last row, when more follow


class IncidentRepository:
    """``incidents`` (snapshots) and ``incident_cursor``; the signals themselves are the anomaly
    repository's (``anomalies_changed_since``), their alerts' ends the alert repository's."""

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool

    def save_incidents(self, incidents: list[Incident], at: datetime) -> None:
        """Store the newest snapshot of each incident (a later ``at`` wins)."""
        if not incidents:
            return
        rows = [[i.tenant_id, i.incident_id, i.status.value, int(i.severity), i.opened_at, i.updated_at,
                 i.resolved_at, i.root_cause or "", list(i.services), len(i.members), i.revision,
                 orjson.dumps(incident_to_dict(i)).decode(), at] for i in incidents]
        with self._pool.borrow() as client:
            client.insert("incidents", rows, column_names=[
                "tenant_id", "incident_id", "status", "severity", "opened_at", "updated_at", "resolved_at",
                "root_cause", "services", "members", "revision", "snapshot", "stored_at"])

    def get_incident(self, tenant_id: str, incident_id: str) -> Incident | None:
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT snapshot FROM incidents FINAL WHERE tenant_id = {tenant_id:String} "
                "AND incident_id = {incident_id:String}",
                parameters={"tenant_id": tenant_id, "incident_id": incident_id}).result_rows
        return incident_from_dict(orjson.loads(rows[0][0])) if rows else None

    def list_incidents(self, tenant_id: str, *, status: str | None = None, service_id: str | None = None,
                       since: datetime | None = None, until: datetime | None = None, min_severity: int | None = None,
                       limit: int = 50, after: tuple[datetime, str] | None = None) -> IncidentPage:
        """Newest opened first, ``limit`` at a time (``since``/``until`` bound ``opened_at``)."""
        predicate = ["tenant_id = {tenant_id:String}"]
        parameters: dict = {"tenant_id": tenant_id, "limit": limit + 1}
        if status is not None:
            predicate.append("status = {status:String}")
            parameters["status"] = status
        if service_id is not None:
            predicate.append("has(services, {service_id:String})")
            parameters["service_id"] = service_id
        if since is not None:
            predicate.append(f"opened_at >= {{since:{_TS}}}")
            parameters["since"] = since
        if until is not None:
            predicate.append(f"opened_at < {{until:{_TS}}}")
            parameters["until"] = until
        if min_severity is not None:
            predicate.append("severity >= {min_severity:UInt8}")
            parameters["min_severity"] = min_severity
        where = " AND ".join(predicate)
        page_where = where
        if after is not None:
            page_where += f" AND (opened_at, incident_id) < ({{after_at:{_TS}}}, {{after_id:String}})"
            parameters["after_at"], parameters["after_id"] = after
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT snapshot FROM incidents FINAL WHERE {page_where} "
                "ORDER BY opened_at DESC, incident_id DESC LIMIT {limit:UInt32}", parameters=parameters).result_rows
            total = int(client.query(f"SELECT count() FROM incidents FINAL WHERE {where}",
                                     parameters=parameters).result_rows[0][0])
        incidents = [incident_from_dict(orjson.loads(row[0])) for row in rows[:limit]]
        more = len(rows) > limit
        return IncidentPage(incidents, total,
                            (incidents[-1].opened_at, incidents[-1].incident_id) if more else None)

    def incidents_to_restore(self, resolved_kept: int) -> list[Incident]:
        """Every open incident of every tenant, and each tenant's ``resolved_kept`` latest resolved ones."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT snapshot FROM (SELECT snapshot, status, tenant_id, resolved_at FROM incidents FINAL) "
                "WHERE status != {resolved:String} OR resolved_at IS NULL "
                "UNION ALL SELECT snapshot FROM (SELECT snapshot, tenant_id, resolved_at FROM incidents FINAL "
                "WHERE status = {resolved:String} ORDER BY resolved_at DESC LIMIT {kept:UInt32} BY tenant_id)",
                parameters={"resolved": IncidentStatus.RESOLVED.value, "kept": resolved_kept}).result_rows
        return [incident_from_dict(orjson.loads(row[0])) for row in rows]

    def incident_cursor(self, name: str) -> datetime | None:
        with self._pool.borrow() as client:
            rows = client.query("SELECT position FROM incident_cursor FINAL WHERE tenant_id = '' "
                                "AND name = {name:String}", parameters={"name": name}).result_rows
        return _utc(rows[0][0]) if rows else None

    def save_incident_cursor(self, name: str, position: datetime, at: datetime) -> None:
        with self._pool.borrow() as client:
            client.insert("incident_cursor", [["", name, position, at]],
                          column_names=["tenant_id", "name", "position", "saved_at"])
