"""SQL of log records and their templates: storing records once, reading them back, and
what the rollup reads and writes to mine templates.

A mixin of :class:`~aiops.storage.store.Store` (parameterised, ``tenant_id`` in every
predicate, ``FINAL`` on replacing tables).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from aiops.storage.telemetry_records import LogBody, LogMinute, StoredLog, TelemetryOutcome, TemplateCount
from aiops.storage.telemetry_writes import TelemetryWrites

NS = "DateTime64(9, 'UTC')"
LOG_WINDOW_COLUMNS = ("timestamp_unix_nano", "service", "trace_id", "span_id", "severity", "body")


def _utc(value: datetime) -> datetime:
    from aiops.storage.store import utc

    return utc(value)


class LogQueries(TelemetryWrites):
    _pool: object

    def ingest_logs(self, tenant_id: str, logs: pa.Table, digest: str) -> TelemetryOutcome:
        """Store a decoded batch of log records once (see :mod:`aiops.ingest.otlp.logs` for the columns)."""
        self._store_telemetry("logs", tenant_id, logs, digest)
        return TelemetryOutcome(logs.num_rows)

    def logs_in_window(self, tenant_id: str, since: datetime, until: datetime, limit: int,
                       services: list[str] | None = None) -> pa.Table:
        """Log records stamped in ``[since, until)``, oldest first, at most ``limit``, as an Arrow table.

        Columns (:data:`LOG_WINDOW_COLUMNS`, the offline ``logs.csv`` of ``aiops eval rca``):
        ``timestamp_unix_nano`` int64; ``service`` string; ``trace_id``, ``span_id`` hex strings
        (``""`` when the record has none); ``severity`` the level name (``TRACE``, ``DEBUG``,
        ``INFO``, ``WARN``, ``ERROR``, ``FATAL`` or ``UNSPECIFIED``); ``body`` string.
        ``services`` restricts to those.
        """
        parameters: dict = {"tenant_id": tenant_id, "since": since, "until": until, "limit": limit}
        only = ""
        if services is not None:
            only = "AND service IN {services:Array(String)}"
            parameters["services"] = list(services)
        with self._pool.borrow() as client:
            return client.query_arrow(
                f"""SELECT toUnixTimestamp64Nano(timestamp) AS timestamp_unix_nano, toString(service) AS service,
                           trace_id, span_id, toString(severity) AS severity, body
                    FROM logs FINAL
                    WHERE tenant_id = {{tenant_id:String}} AND timestamp >= {{since:{NS}}}
                          AND timestamp < {{until:{NS}}} {only}
                    ORDER BY timestamp, service LIMIT {{limit:UInt32}}""",
                parameters=parameters,
            )

    def _log_filter(self, tenant_id: str, service_id: str | None, since: datetime, until: datetime,
                    min_severity: int) -> tuple[str, dict]:
        predicate = (f"l.tenant_id = {{tenant_id:String}} AND l.timestamp >= {{since:{NS}}} "
                     f"AND l.timestamp < {{until:{NS}}}")
        parameters: dict = {"tenant_id": tenant_id, "since": since, "until": until, "min_severity": min_severity}
        if service_id is not None:
            predicate += " AND l.service = {service_id:String}"
            parameters["service_id"] = service_id
        if min_severity:
            predicate += " AND l.severity_number >= {min_severity:UInt8}"
        return predicate, parameters

    def list_logs(self, tenant_id: str, service_id: str | None, since: datetime, until: datetime,
                  min_severity: int, limit: int) -> list[StoredLog]:
        """Log records in ``[since, until)`` at or above ``min_severity`` (an OTLP SeverityNumber;
        0 for all), newest first, each with its template once mined."""
        predicate, parameters = self._log_filter(tenant_id, service_id, since, until, min_severity)
        parameters["limit"] = limit
        with self._pool.borrow() as client:
            rows = client.query(
                f"""SELECT toUnixTimestamp64Nano(l.timestamp), toString(l.service), toString(l.severity),
                           l.severity_number, l.body, l.trace_id, l.span_id, l.attributes, l.body_hash
                    FROM logs AS l FINAL WHERE {predicate}
                    ORDER BY l.timestamp DESC LIMIT {{limit:UInt32}}""",
                parameters=parameters,
            ).result_rows
            hashes = sorted({int(r[8]) for r in rows})
            templates = {int(r[0]): (int(r[1]), r[2]) for r in client.query(
                """SELECT b.body_hash, b.template_id, t.template
                   FROM (SELECT body_hash, template_id FROM log_body_templates FINAL
                         WHERE tenant_id = {tenant_id:String} AND body_hash IN {hashes:Array(UInt64)}) AS b
                   INNER JOIN (SELECT template_id, template FROM log_templates FINAL
                               WHERE tenant_id = {tenant_id:String}) AS t ON t.template_id = b.template_id""",
                parameters={"tenant_id": tenant_id, "hashes": hashes},
            ).result_rows} if hashes else {}
        return [StoredLog(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5], r[6], dict(r[7]),
                          *templates.get(int(r[8]), (None, None))) for r in rows]

    def log_templates_in_window(self, tenant_id: str, service_id: str | None, since: datetime, until: datetime,
                                min_severity: int, limit: int) -> list[TemplateCount]:
        """Templates of the (mined) log records in the window, with how many records each, most first."""
        predicate, parameters = self._log_filter(tenant_id, service_id, since, until, min_severity)
        parameters["limit"] = limit
        with self._pool.borrow() as client:
            rows = client.query(
                f"""SELECT b.template_id, any(t.template), count(), any(t.first_seen)
                    FROM (SELECT body_hash FROM logs AS l FINAL WHERE {predicate}) AS l
                    INNER JOIN (
                        SELECT body_hash, template_id FROM log_body_templates FINAL
                        WHERE tenant_id = {{tenant_id:String}} AND body_hash IN (
                            SELECT l.body_hash FROM logs AS l WHERE {predicate})
                    ) AS b ON b.body_hash = l.body_hash
                    INNER JOIN (
                        SELECT template_id, template, first_seen FROM log_templates FINAL
                        WHERE tenant_id = {{tenant_id:String}}
                    ) AS t ON t.template_id = b.template_id
                    GROUP BY b.template_id ORDER BY count() DESC, b.template_id LIMIT {{limit:UInt32}}""",
                parameters=parameters,
            ).result_rows
        return [TemplateCount(int(r[0]), r[1], int(r[2]), _utc(r[3])) for r in rows]

    # -- what the rollup reads and writes ----------------------------------------------------
    def log_minute(self, tenant_id: str, minute: datetime) -> LogMinute:
        """Records per (service, level) in ``[minute, minute + 1 min)``, and the distinct bodies
        with their counts and templates (``template_id`` 0 when not mined yet)."""
        parameters = {"tenant_id": tenant_id, "from": minute, "to": minute + timedelta(minutes=1)}
        window = f"tenant_id = {{tenant_id:String}} AND timestamp >= {{from:{NS}}} AND timestamp < {{to:{NS}}}"
        with self._pool.borrow() as client:
            severities = client.query(
                f"SELECT toString(service), toString(severity), count() FROM logs FINAL WHERE {window} "
                "GROUP BY service, severity ORDER BY service, severity", parameters=parameters,
            ).result_rows
            bodies = client.query(
                f"""SELECT l.service, l.body_hash, l.body, l.records, b.template_id
                    FROM (
                        SELECT toString(service) AS service, body_hash, any(body) AS body, count() AS records
                        FROM logs FINAL WHERE {window} GROUP BY service, body_hash
                    ) AS l
                    LEFT JOIN (
                        SELECT body_hash, template_id FROM log_body_templates FINAL
                        WHERE tenant_id = {{tenant_id:String}} AND body_hash IN (
                            SELECT body_hash FROM logs WHERE {window})
                    ) AS b ON b.body_hash = l.body_hash
                    ORDER BY l.service, l.records DESC, l.body_hash""",
                parameters=parameters,
            ).result_rows
        return LogMinute([(r[0], r[1], int(r[2])) for r in severities],
                         [LogBody(r[0], int(r[1]), r[2], int(r[3]), int(r[4] or 0)) for r in bodies])

    def save_log_templates(self, tenant_id: str, templates: list[tuple[int, str, datetime, datetime]],
                           bodies: list[tuple[int, int]], at: datetime) -> None:
        """Templates new or changed ``(template_id, template, first_seen, last_seen)``, and which
        template newly mined bodies belong to ``(body_hash, template_id)``."""
        with self._pool.borrow() as client:
            if bodies:
                client.insert("log_body_templates", [[tenant_id, body_hash, template_id, at]
                                                     for body_hash, template_id in bodies],
                              column_names=["tenant_id", "body_hash", "template_id", "mined_at"])
            if templates:
                client.insert("log_templates", [[tenant_id, *row] for row in templates],
                              column_names=["tenant_id", "template_id", "template", "first_seen", "last_seen"])

    def load_log_templates(self, tenant_id: str) -> list[tuple[int, str, datetime, datetime]]:
        """Every stored template of the tenant ``(template_id, template, first_seen, last_seen)``, oldest first."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT template_id, template, first_seen, last_seen FROM log_templates FINAL "
                "WHERE tenant_id = {tenant_id:String} ORDER BY template_id",
                parameters={"tenant_id": tenant_id},
            ).result_rows
        return [(int(r[0]), r[1], _utc(r[2]), _utc(r[3])) for r in rows]
