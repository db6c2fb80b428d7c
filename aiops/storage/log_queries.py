"""SQL of log records and their templates: storing records once, reading them back, and
what the rollup reads and writes to mine templates.

Parameterised, ``tenant_id`` in every predicate, ``FINAL`` on replacing tables.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from aiops.storage.client import ClientPool
from aiops.storage.sql import NS, ns_window, trace_sample, utc
from aiops.storage.telemetry_records import LogMinute, LogShape, StoredLog, TelemetryOutcome, TemplateCount
from aiops.storage.telemetry_writes import TelemetryWriter

# A log body's shape: every whitespace-separated token with a digit in it replaced by <*> (what
# Drain treats as a parameter anyway), so a template is mined per shape, not per body. Computed
# when read (the rollup, once per record; a listing, for the records it shows), not at insert.
MESSAGE_SHAPE = "replaceRegexpAll(body, '\\\\S*\\\\d\\\\S*', '<*>')"
SHAPE_HASH = f"cityHash64({MESSAGE_SHAPE})"
LOG_WINDOW_COLUMNS = ("timestamp_unix_nano", "service", "trace_id", "span_id", "severity", "body")


class LogRepository:
    """``logs`` and ``log_templates``."""

    def __init__(self, pool: ClientPool, writer: TelemetryWriter) -> None:
        self._pool = pool
        self._writer = writer

    def ingest_logs(self, tenant_id: str, logs: pa.Table, digest: str) -> TelemetryOutcome:
        """Store a decoded batch of log records once (see :mod:`aiops.ingest.otlp.logs` for the columns)."""
        self._writer.store("logs", tenant_id, logs, digest)
        return TelemetryOutcome(logs.num_rows)

    def logs_in_window(self, tenant_id: str, since: datetime, until: datetime, limit: int,
                       services: list[str] | None = None) -> pa.Table:
        """Log records stamped in ``[since, until)``, oldest first, at most ``limit``, as an Arrow table.

        Columns (:data:`LOG_WINDOW_COLUMNS`, the offline ``logs.csv`` of ``aiops eval rca``):
        ``timestamp_unix_nano`` int64; ``service`` string; ``trace_id``, ``span_id`` hex strings
        (``""`` when the record has none); ``severity`` the level name (``TRACE``, ``DEBUG``,
        ``INFO``, ``WARN``, ``ERROR``, ``FATAL`` or ``UNSPECIFIED``); ``body`` string.
        ``services`` restricts to those. A window holding more than ``limit`` records is
        sampled to about ``limit``: by trace where a record has one (the traces
        :meth:`spans_in_window` keeps), by its time otherwise.
        """
        since, until = ns_window(since, until)
        parameters: dict = {"tenant_id": tenant_id, "since": since, "until": until, "limit": limit}
        where = f"tenant_id = {{tenant_id:String}} AND timestamp >= {{since:{NS}}} AND timestamp < {{until:{NS}}}"
        if services is not None:
            where += " AND service IN {services:Array(String)}"
            parameters["services"] = list(services)
        with self._pool.borrow() as client:
            where += trace_sample(client, "logs", where, parameters,
                                  "if(trace_id = '', toString(timestamp), trace_id)")
            return client.query_arrow(
                f"""SELECT toUnixTimestamp64Nano(timestamp) AS timestamp_unix_nano, toString(service) AS service,
                           trace_id, span_id, toString(severity) AS severity, body
                    FROM logs FINAL WHERE {where}
                    ORDER BY timestamp, service LIMIT {{limit:UInt32}}""",
                parameters=parameters,
            )

    def _log_filter(self, tenant_id: str, service_id: str | None, since: datetime, until: datetime,
                    min_severity: int) -> tuple[str, dict]:
        since, until = ns_window(since, until)
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
                           l.severity_number, l.body, l.trace_id, l.span_id, l.attributes, {SHAPE_HASH}
                    FROM logs AS l FINAL WHERE {predicate}
                    ORDER BY l.timestamp DESC LIMIT {{limit:UInt32}}""",
                parameters=parameters,
            ).result_rows
            hashes = sorted({int(r[8]) for r in rows})
            templates = {int(r[0]): (int(r[1]), r[2]) for r in client.query(
                """SELECT b.shape_hash, b.template_id, t.template
                   FROM (SELECT shape_hash, template_id FROM log_shapes FINAL
                         WHERE tenant_id = {tenant_id:String} AND shape_hash IN {hashes:Array(UInt64)}) AS b
                   INNER JOIN (SELECT template_id, template FROM log_templates FINAL
                               WHERE tenant_id = {tenant_id:String}) AS t ON t.template_id = b.template_id""",
                parameters={"tenant_id": tenant_id, "hashes": hashes},
            ).result_rows} if hashes else {}
        return [StoredLog(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5], r[6], dict(r[7]),
                          *templates.get(int(r[8]), (None, None))) for r in rows]

    def log_templates_in_window(self, tenant_id: str, service_id: str | None, since: datetime, until: datetime,
                                min_severity: int, limit: int) -> list[TemplateCount]:
        """Templates of the records in the window's rolled-up minutes (at or above ``min_severity``,
        of ``service_id`` when given), with how many records each, most first."""
        parameters: dict = {"tenant_id": tenant_id, "since": since, "until": until, "min_severity": min_severity,
                            "limit": limit}
        predicate = ("c.tenant_id = {tenant_id:String} AND c.minute >= toStartOfMinute({since:DateTime64(3, 'UTC')}) "
                     "AND c.minute < {until:DateTime64(3, 'UTC')} AND c.severity_number >= {min_severity:UInt8}")
        if service_id is not None:
            predicate += " AND c.service = {service_id:String}"
            parameters["service_id"] = service_id
        with self._pool.borrow() as client:
            rows = client.query(
                f"""SELECT c.template_id, any(t.template), sum(c.records) AS records, any(t.first_seen)
                    FROM (SELECT * FROM log_template_minutes AS c FINAL WHERE {predicate}) AS c
                    INNER JOIN (
                        SELECT template_id, template, first_seen FROM log_templates FINAL
                        WHERE tenant_id = {{tenant_id:String}}
                    ) AS t ON t.template_id = c.template_id
                    GROUP BY c.template_id ORDER BY records DESC, c.template_id LIMIT {{limit:UInt32}}""",
                parameters=parameters,
            ).result_rows
        return [TemplateCount(int(r[0]), r[1], int(r[2]), utc(r[3])) for r in rows]

    def log_template_counts(self, tenant_id: str, since: datetime, until: datetime) -> pa.Table:
        """Records per (minute, service, template, level) in the rolled-up minutes of ``[since, until)``,
        as an Arrow table: ``minute`` (timestamp), ``service``, ``template_id`` (uint64), ``template``,
        ``severity`` (level name), ``records`` (uint64), ``first_seen`` (when the template first
        appeared: a template new in the window is "never seen before")."""
        with self._pool.borrow() as client:
            return client.query_arrow(
                """SELECT c.minute AS minute, toString(c.service) AS service, c.template_id AS template_id,
                          t.template AS template, toString(c.severity) AS severity, c.records AS records,
                          t.first_seen AS first_seen
                   FROM (SELECT * FROM log_template_minutes FINAL
                         WHERE tenant_id = {tenant_id:String}
                               AND minute >= toStartOfMinute({since:DateTime64(3, 'UTC')})
                               AND minute < {until:DateTime64(3, 'UTC')}) AS c
                   INNER JOIN (SELECT template_id, template, first_seen FROM log_templates FINAL
                               WHERE tenant_id = {tenant_id:String}) AS t ON t.template_id = c.template_id
                   ORDER BY minute, service, template_id, severity""",
                parameters={"tenant_id": tenant_id, "since": since, "until": until},
            )

    # -- what the rollup reads and writes ----------------------------------------------------
    def log_minute(self, tenant_id: str, minute: datetime) -> LogMinute:
        """Records per (service, level) in ``[minute, minute + 1 min)``, and the distinct message shapes
        with their counts and templates (``template_id`` 0 when not mined yet)."""
        parameters = {"tenant_id": tenant_id, "from": minute, "to": minute + timedelta(minutes=1)}
        window = f"tenant_id = {{tenant_id:String}} AND timestamp >= {{from:{NS}}} AND timestamp < {{to:{NS}}}"
        with self._pool.borrow() as client:
            severities = client.query(
                f"SELECT toString(service), toString(severity), count() FROM logs FINAL WHERE {window} "
                "GROUP BY service, severity ORDER BY service, severity", parameters=parameters,
            ).result_rows
            shapes = client.query(
                f"""SELECT l.service, l.severity, l.shape_hash, l.shape, l.records, b.template_id
                    FROM (
                        SELECT toString(service) AS service, toString(severity) AS severity,
                               {SHAPE_HASH} AS shape_hash, any({MESSAGE_SHAPE}) AS shape, count() AS records
                        FROM logs FINAL WHERE {window} GROUP BY service, severity, shape_hash
                    ) AS l
                    LEFT JOIN (
                        SELECT shape_hash, template_id FROM log_shapes FINAL WHERE tenant_id = {{tenant_id:String}}
                    ) AS b ON b.shape_hash = l.shape_hash
                    ORDER BY l.service, l.records DESC, l.shape_hash, l.severity""",
                parameters=parameters,
            ).result_rows
        return LogMinute([(r[0], r[1], int(r[2])) for r in severities],
                         [LogShape(r[0], r[1], int(r[2]), r[3], int(r[4]), int(r[5] or 0)) for r in shapes])

    def save_log_templates(self, tenant_id: str, templates: list[tuple[int, str, datetime, datetime]],
                           shapes: list[tuple[int, int]], counts: list[tuple[datetime, str, int, str, int, int]],
                           at: datetime) -> None:
        """Templates new or changed ``(template_id, template, first_seen, last_seen)``, which template
        newly mined shapes belong to ``(shape_hash, template_id)``, and a minute's records per template
        ``(minute, service, template_id, severity, severity_number, records)`` (replacing that minute's)."""
        with self._pool.borrow() as client:
            if counts:
                client.insert("log_template_minutes", [[tenant_id, *row, at] for row in counts],
                              column_names=["tenant_id", "minute", "service", "template_id", "severity",
                                            "severity_number", "records", "computed_at"])
            if shapes:
                client.insert("log_shapes", [[tenant_id, shape_hash, template_id, at]
                                             for shape_hash, template_id in shapes],
                              column_names=["tenant_id", "shape_hash", "template_id", "mined_at"])
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
        return [(int(r[0]), r[1], utc(r[2]), utc(r[3])) for r in rows]
