"""Versioned, idempotent schema migrations, recorded in ``schema_migrations``.

Each migration is a numbered list of statements written so that running it again is
harmless (``IF NOT EXISTS``), because a crash can land between a statement and its record.
Time-series tables lead their sort key with ``tenant_id``, are partitioned by month and
expire rows by a TTL taken from ``retention``; the TTL is re-applied at every start when the
setting changed. Small registry tables (tenants, API keys) are neither partitioned nor
expired: they are read whole and must outlive every retention window.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from aiops.settings import RetentionSettings
from aiops.storage.incident_schema import INCIDENT_MIGRATIONS

log = logging.getLogger(__name__)

TS = "DateTime64(3, 'UTC')"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class ExpiringTable:
    """A table whose rows expire ``days_field`` days after ``time_column``."""

    table: str
    time_column: str
    days_field: str

    def ttl_clause(self, retention: RetentionSettings) -> str:
        return f"toDateTime({self.time_column}) + toIntervalDay({getattr(retention, self.days_field)})"


EXPIRING_TABLES = (
    ExpiringTable("metric_points", "ts", "metric_points_days"),
    ExpiringTable("metric_minutes", "minute", "metric_points_days"),
    ExpiringTable("anomalies", "detected_at", "anomalies_days"),
    ExpiringTable("rca_results", "requested_at", "rca_results_days"),
    ExpiringTable("correlation_edges", "computed_at", "correlation_edges_days"),
    ExpiringTable("alerts", "starts_at", "alerts_days"),
    ExpiringTable("knowledge_base", "created_at", "knowledge_base_days"),
    ExpiringTable("spans", "start", "spans_days"),
    ExpiringTable("trace_index", "last_start", "spans_days"),
    ExpiringTable("span_names", "first_seen", "spans_days"),
    ExpiringTable("service_calls", "minute", "spans_days"),
    ExpiringTable("logs", "timestamp", "logs_days"),
    ExpiringTable("log_templates", "last_seen", "logs_days"),
    ExpiringTable("log_shapes", "mined_at", "logs_days"),
    ExpiringTable("log_template_minutes", "minute", "logs_days"),
)
_TTL_OF = {table.table: table for table in EXPIRING_TABLES}


def _ttl(table: str) -> str:
    # Filled in at apply time from the retention settings.
    return "TTL {ttl:" + table + "}"


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "core tables",
        (
            f"""CREATE TABLE IF NOT EXISTS tenants (
                tenant_id String, name String, plan LowCardinality(String),
                contact_email String, created_at {TS}, updated_at {TS}, deleted UInt8 DEFAULT 0
            ) ENGINE = ReplacingMergeTree(updated_at) ORDER BY tenant_id""",
            f"""CREATE TABLE IF NOT EXISTS api_keys (
                tenant_id String, key_id String, name String, scope LowCardinality(String),
                prefix String, key_hash String, rate_limit_rps Float64,
                expires_at Nullable({TS}), created_at {TS}, created_by String,
                revoked_at Nullable({TS}), updated_at {TS},
                INDEX key_hash_idx key_hash TYPE bloom_filter GRANULARITY 1
            ) ENGINE = ReplacingMergeTree(updated_at) ORDER BY (tenant_id, key_id)""",
            f"""CREATE TABLE IF NOT EXISTS metric_points (
                tenant_id String, service_id LowCardinality(String),
                metric_name LowCardinality(String), series_id UInt64,
                labels Map(LowCardinality(String), String), ts {TS}, value Float64,
                ingested_at {TS} DEFAULT now64(3)
            ) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMM(ts)
            ORDER BY (tenant_id, service_id, metric_name, series_id, ts) {_ttl("metric_points")}""",
            """CREATE TABLE IF NOT EXISTS tenant_usage (
                tenant_id String, month Date, points UInt64
            ) ENGINE = SummingMergeTree(points) PARTITION BY toYYYYMM(month)
            ORDER BY (tenant_id, month)""",
            f"""CREATE TABLE IF NOT EXISTS anomalies (
                tenant_id String, anomaly_id String, service_id LowCardinality(String),
                metric_name LowCardinality(String), series_id UInt64,
                labels Map(LowCardinality(String), String), source LowCardinality(String),
                model LowCardinality(String), anomaly_score Float64, z_score Float64,
                detected_at {TS}, last_seen_at {TS}, rca_triggered UInt8, resolved UInt8,
                feedback LowCardinality(String), updated_at {TS}
            ) ENGINE = ReplacingMergeTree(updated_at) PARTITION BY toYYYYMM(detected_at)
            ORDER BY (tenant_id, detected_at, anomaly_id) {_ttl("anomalies")}""",
            f"""CREATE TABLE IF NOT EXISTS rca_results (
                tenant_id String, anomaly_id String, status LowCardinality(String),
                ranker LowCardinality(String), root_causes String, blast_radius String,
                similar_incidents String, summary String, error String,
                requested_at {TS}, updated_at {TS}
            ) ENGINE = ReplacingMergeTree(updated_at) PARTITION BY toYYYYMM(requested_at)
            ORDER BY (tenant_id, anomaly_id) {_ttl("rca_results")}""",
            f"""CREATE TABLE IF NOT EXISTS correlation_edges (
                tenant_id String, source_service String, target_service String,
                kind LowCardinality(String), correlation_score Float64, lag_minutes Int32,
                direction LowCardinality(String), metrics Array(String), computed_at {TS}
            ) ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(computed_at)
            ORDER BY (tenant_id, source_service, target_service, kind) {_ttl("correlation_edges")}""",
            f"""CREATE TABLE IF NOT EXISTS alerts (
                tenant_id String, fingerprint String, starts_at {TS}, ends_at Nullable({TS}),
                status LowCardinality(String), alertname String, service_id String,
                labels Map(String, String), annotations Map(String, String),
                generator_url String, anomaly_id String, received_at {TS}, updated_at {TS}
            ) ENGINE = ReplacingMergeTree(updated_at) PARTITION BY toYYYYMM(starts_at)
            ORDER BY (tenant_id, fingerprint, starts_at) {_ttl("alerts")}""",
            f"""CREATE TABLE IF NOT EXISTS knowledge_base (
                tenant_id String, kb_id String, incident_id String, service_id String,
                resolution String, resolved_by String,
                time_to_recovery_minutes Nullable(Float64), tags Array(String),
                embedding Array(Float32), embedding_model LowCardinality(String),
                created_at {TS}, updated_at {TS}
            ) ENGINE = ReplacingMergeTree(updated_at) PARTITION BY toYYYYMM(created_at)
            ORDER BY (tenant_id, kb_id) {_ttl("knowledge_base")}""",
        ),
    ),
    Migration(
        2,
        "api key usage",
        (
            # Kept apart from api_keys so frequent "last used" updates never rewrite key rows.
            f"""CREATE TABLE IF NOT EXISTS api_key_usage (
                tenant_id String, key_id String, last_used_at {TS}
            ) ENGINE = ReplacingMergeTree(last_used_at) ORDER BY (tenant_id, key_id)""",
        ),
    ),
    Migration(
        3,
        "series registry and exactly-once ingestion",
        (
            # Labels are stored once per series, not once per point.
            f"""CREATE TABLE IF NOT EXISTS series (
                tenant_id String, series_id UInt64, service_id LowCardinality(String),
                metric_name LowCardinality(String), labels Map(LowCardinality(String), String),
                first_seen {TS} DEFAULT now64(3)
            ) ENGINE = ReplacingMergeTree ORDER BY (tenant_id, service_id, metric_name, series_id)""",
            "ALTER TABLE metric_points DROP COLUMN IF EXISTS labels",
            # One row per stored batch (its content digest): how a retry is recognised, and
            # what tenant_usage counts, so a batch is counted once however often it is sent.
            f"""CREATE TABLE IF NOT EXISTS ingested_batches (
                tenant_id String, digest String, points UInt32, ingested_at {TS}
            ) ENGINE = ReplacingMergeTree ORDER BY (tenant_id, digest)
            TTL toDateTime(ingested_at) + toIntervalDay(2)""",
            """CREATE MATERIALIZED VIEW IF NOT EXISTS tenant_usage_mv TO tenant_usage AS
               SELECT tenant_id, toStartOfMonth(ingested_at) AS month, sum(points) AS points
               FROM ingested_batches GROUP BY tenant_id, month""",
        ),
    ),
    Migration(
        4,
        "watchdog: anomaly lookups, detector checkpoints, model choices",
        (
            "ALTER TABLE anomalies ADD INDEX IF NOT EXISTS anomaly_id_idx anomaly_id TYPE bloom_filter GRANULARITY 1",
            # The latest detection state of each tenant (numpy arrays, serialised).
            f"""CREATE TABLE IF NOT EXISTS detector_checkpoints (
                tenant_id String, model LowCardinality(String), state String, saved_at {TS}
            ) ENGINE = ReplacingMergeTree(saved_at) ORDER BY tenant_id""",
            # Every model swap, kept: the latest row per (tenant, kind) is in force.
            f"""CREATE TABLE IF NOT EXISTS model_choices (
                tenant_id String, kind LowCardinality(String), name String, config String,
                chosen_by String, chosen_at {TS}
            ) ENGINE = MergeTree ORDER BY (tenant_id, kind, chosen_at)""",
        ),
    ),
    Migration(
        5,
        "rca: queue bookkeeping, graph snapshots, declared topology",
        (
            "ALTER TABLE rca_results ADD COLUMN IF NOT EXISTS attempts UInt16 DEFAULT 0",
            "ALTER TABLE rca_results ADD COLUMN IF NOT EXISTS worker Int32 DEFAULT -1",
            # One row per learned graph; its edges are the correlation_edges rows with the
            # same computed_at, so a new graph replaces the old one as a whole.
            f"""CREATE TABLE IF NOT EXISTS graph_snapshots (
                tenant_id String, computed_at {TS}, services Array(String),
                window_start {TS}, window_end {TS}
            ) ENGINE = ReplacingMergeTree(computed_at) ORDER BY tenant_id""",
            # A tenant's declared caller -> callee edges, replaced as a whole by each PUT.
            f"""CREATE TABLE IF NOT EXISTS topology (
                tenant_id String, edges String, declared_by String, declared_at {TS}
            ) ENGINE = ReplacingMergeTree(declared_at) ORDER BY tenant_id""",
        ),
    ),
    Migration(
        6,
        "alerts linked to watchdog anomalies; embedding versions",
        (
            "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS linked_anomalies Array(String)",
            "ALTER TABLE knowledge_base ADD COLUMN IF NOT EXISTS embedding_version String",
        ),
    ),
    Migration(
        7,
        "per-minute rollup of every (service, metric) for RCA frames",
        (
            # An RCA averages each (service, metric) per minute over its lookback window; read
            # from raw points that is a FINAL scan of every point of the window. The rollup keeps
            # a sum and a count per minute, filled at insert time. (A retried batch is never
            # inserted twice, so it is not counted twice.)
            f"""CREATE TABLE IF NOT EXISTS metric_minutes (
                tenant_id String, service_id LowCardinality(String), metric_name LowCardinality(String),
                minute DateTime('UTC'), total Float64, points UInt64
            ) ENGINE = SummingMergeTree PARTITION BY toYYYYMM(minute)
            ORDER BY (tenant_id, service_id, metric_name, minute) {_ttl("metric_minutes")}""",
            """CREATE MATERIALIZED VIEW IF NOT EXISTS metric_minutes_mv TO metric_minutes AS
               SELECT tenant_id, service_id, metric_name, toStartOfMinute(ts) AS minute,
                      sum(value) AS total, count() AS points
               FROM metric_points GROUP BY tenant_id, service_id, metric_name, minute""",
            # Points stored before this migration (the engine migrates before it serves).
            """INSERT INTO metric_minutes
               SELECT tenant_id, service_id, metric_name, toStartOfMinute(ts) AS minute,
                      sum(value) AS total, count() AS points
               FROM metric_points FINAL GROUP BY tenant_id, service_id, metric_name, minute""",
        ),
    ),
    Migration(
        8,
        "RCA requests someone waits for (an alert, an on-demand GET) are taken first",
        ("ALTER TABLE rca_results ADD COLUMN IF NOT EXISTS priority UInt8 DEFAULT 0",),
    ),
    Migration(
        9,
        "alerts remember the webhook key they came with (a later notice about them needs one too)",
        ("ALTER TABLE alerts ADD COLUMN IF NOT EXISTS key_id String DEFAULT ''",),
    ),
    Migration(
        10,
        "RCA results: a stable code for why one failed, and who wrote the summary (template or LLM)",
        (
            "ALTER TABLE rca_results ADD COLUMN IF NOT EXISTS error_code LowCardinality(String) DEFAULT ''",
            "ALTER TABLE rca_results ADD COLUMN IF NOT EXISTS summary_by LowCardinality(String) DEFAULT ''",
        ),
    ),
    # 20-29: OpenTelemetry (OTLP) spans and logs, and what the engine derives from them.
    Migration(
        20,
        "OTLP spans, the trace index, span names per tenant",
        (
            # One row per (tenant, trace id, span id): a retried span has the same sort key, so
            # merges (and FINAL reads) keep one copy. Hours lead the key after the tenant: reads
            # are by time window; a trace is found through trace_index and the bloom filter.
            f"""CREATE TABLE IF NOT EXISTS spans (
                tenant_id String, service LowCardinality(String), operation LowCardinality(String),
                trace_id String, span_id String, parent_span_id String, kind UInt8,
                start DateTime64(9, 'UTC'), duration_ns UInt64, status_code UInt8, status_message String,
                attributes Map(LowCardinality(String), String), ingested_at {TS} DEFAULT now64(3),
                INDEX trace_id_idx trace_id TYPE bloom_filter(0.001) GRANULARITY 1
            ) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toDate(start)
            ORDER BY (tenant_id, toStartOfHour(start), service, trace_id, span_id) {_ttl("spans")}""",
            # When each trace's spans start: a trace is read from those hours only.
            """CREATE TABLE IF NOT EXISTS trace_index (
                tenant_id String, trace_id String,
                first_start SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
                last_start SimpleAggregateFunction(max, DateTime64(9, 'UTC'))
            ) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(last_start) ORDER BY (tenant_id, trace_id) """
            + _ttl("trace_index"),
            """CREATE MATERIALIZED VIEW IF NOT EXISTS trace_index_mv TO trace_index AS
               SELECT tenant_id, trace_id, min(start) AS first_start, max(start) AS last_start
               FROM spans GROUP BY tenant_id, trace_id""",
            # Distinct span names per tenant and service, for the otlp.max_span_names bound.
            f"""CREATE TABLE IF NOT EXISTS span_names (
                tenant_id String, service String, operation String, first_seen {TS}
            ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(first_seen) ORDER BY (tenant_id, service, operation)
            {_ttl("span_names")}""",
        ),
    ),
    Migration(
        21,
        "OTLP log records and their templates",
        (
            # record_id tells two records of the same service and instant apart by content, so a
            # retried record collapses onto itself and two different ones stay two.
            f"""CREATE TABLE IF NOT EXISTS logs (
                tenant_id String, service LowCardinality(String), timestamp DateTime64(9, 'UTC'),
                severity_number UInt8, severity LowCardinality(String), body String,
                trace_id String, span_id String, attributes Map(LowCardinality(String), String),
                record_id UInt64 MATERIALIZED cityHash64(body, trace_id, span_id, severity_number,
                                                         toString(attributes)),
                ingested_at {TS} DEFAULT now64(3)
            ) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toDate(timestamp)
            ORDER BY (tenant_id, service, timestamp, record_id) {_ttl("logs")}""",
            # Templates mined from message shapes (Drain): the current text of each (also what a
            # restarted miner is rebuilt from), and which template each shape (by hash) belongs to.
            f"""CREATE TABLE IF NOT EXISTS log_templates (
                tenant_id String, template_id UInt64, template String, first_seen {TS}, last_seen {TS}
            ) ENGINE = ReplacingMergeTree(last_seen) PARTITION BY toYYYYMM(first_seen) ORDER BY (tenant_id, template_id)
            {_ttl("log_templates")}""",
            f"""CREATE TABLE IF NOT EXISTS log_shapes (
                tenant_id String, shape_hash UInt64, template_id UInt64, mined_at {TS}
            ) ENGINE = ReplacingMergeTree(mined_at) PARTITION BY toYYYYMM(mined_at) ORDER BY (tenant_id, shape_hash)
            {_ttl("log_shapes")}""",
            # Records per template, service and level per minute (the rollup's counts; what
            # GET /api/v1/logs lists templates from without scanning records).
            f"""CREATE TABLE IF NOT EXISTS log_template_minutes (
                tenant_id String, minute DateTime('UTC'), service LowCardinality(String), template_id UInt64,
                severity LowCardinality(String), severity_number UInt8, records UInt64, computed_at {TS}
            ) ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(minute)
            ORDER BY (tenant_id, minute, service, template_id, severity) {_ttl("log_template_minutes")}""",
        ),
    ),
    Migration(
        22,
        "telemetry rollups: minutes that hold spans or logs, minutes rolled up, observed calls",
        (
            # Which minutes hold spans or logs, and when their last row arrived: a minute is rolled
            # up once it is over and quiet (aiops/telemetry/rollup.py).
            f"""CREATE TABLE IF NOT EXISTS telemetry_minutes (
                tenant_id String, signal LowCardinality(String), minute DateTime('UTC'),
                items SimpleAggregateFunction(sum, UInt64), last_arrival SimpleAggregateFunction(max, {TS})
            ) ENGINE = AggregatingMergeTree ORDER BY (tenant_id, signal, minute)
            TTL minute + toIntervalDay(8)""",
            """CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry_minutes_spans_mv TO telemetry_minutes AS
               SELECT tenant_id, 'spans' AS signal, toStartOfMinute(start) AS minute, count() AS items,
                      max(ingested_at) AS last_arrival
               FROM spans GROUP BY tenant_id, minute""",
            """CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry_minutes_logs_mv TO telemetry_minutes AS
               SELECT tenant_id, 'logs' AS signal, toStartOfMinute(timestamp) AS minute, count() AS items,
                      max(ingested_at) AS last_arrival
               FROM logs GROUP BY tenant_id, minute""",
            # A (tenant, signal, minute) is rolled up once: its row here says so.
            f"""CREATE TABLE IF NOT EXISTS telemetry_rollups (
                tenant_id String, signal LowCardinality(String), minute DateTime('UTC'), rolled_at {TS}
            ) ENGINE = ReplacingMergeTree(rolled_at) ORDER BY (tenant_id, signal, minute)
            TTL minute + toIntervalDay(8)""",
            # The observed call graph: caller -> callee per minute, from spans.
            f"""CREATE TABLE IF NOT EXISTS service_calls (
                tenant_id String, minute DateTime('UTC'), caller LowCardinality(String),
                callee LowCardinality(String), calls UInt64, errors UInt64, latency_ms_sum Float64,
                latency_ms_p95 Float64, computed_at {TS}
            ) ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(minute)
            ORDER BY (tenant_id, caller, callee, minute) {_ttl("service_calls")}""",
        ),
    ),
)

# Incidents and notifications (#18): migrations 40-49 live in their own module.
MIGRATIONS += tuple(Migration(version, name, statements) for version, name, statements in INCIDENT_MIGRATIONS)

_PLACEHOLDER = re.compile(r"\{ttl:(\w+)\}")


def render(statement: str, retention: RetentionSettings) -> str:
    """Fill the TTL placeholders of one statement from the retention settings."""
    return _PLACEHOLDER.sub(lambda match: _TTL_OF[match.group(1)].ttl_clause(retention), statement)


def applied_versions(client: Client) -> set[int]:
    client.command(
        f"""CREATE TABLE IF NOT EXISTS schema_migrations (
            version UInt32, name String, applied_at {TS}
        ) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version"""
    )
    return {int(row[0]) for row in client.query("SELECT DISTINCT version FROM schema_migrations").result_rows}


def migrate(client: Client, retention: RetentionSettings) -> list[int]:
    """Apply every migration not yet recorded, in order; return the versions applied now."""
    done = applied_versions(client)
    applied = []
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version in done:
            continue
        log.info("applying schema migration %d: %s", migration.version, migration.name)
        for statement in migration.statements:
            client.command(render(statement, retention))
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name, datetime.now(UTC)]],
            column_names=["version", "name", "applied_at"],
        )
        applied.append(migration.version)
    apply_retention(client, retention)
    return applied


def _current_ttl(client: Client, table: str) -> str:
    rows = client.query(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}",
        parameters={"table": table},
    ).result_rows
    match = re.search(r"TTL (.*?)(?: SETTINGS |$)", rows[0][0]) if rows else None
    return match.group(1).strip() if match else ""


def apply_retention(client: Client, retention: RetentionSettings) -> list[str]:
    """Bring each table's TTL in line with the settings; return the tables changed."""
    changed = []
    for expiring in EXPIRING_TABLES:
        wanted = expiring.ttl_clause(retention)
        if _current_ttl(client, expiring.table).replace(" ", "") == wanted.replace(" ", ""):
            continue
        # Rows are re-checked at the next merge instead of rewriting every part now.
        client.command(
            f"ALTER TABLE {expiring.table} MODIFY TTL {wanted}",
            settings={"materialize_ttl_after_modify": 0},
        )
        changed.append(expiring.table)
    return changed
