"""Schema of incidents and notifications (migrations 40-41), as plain data :mod:`aiops.storage.migrations` appends.

Kept apart so the incident tables can evolve without touching the shared migration list.
Incident snapshots and outbox rows are small registries written by one actor each
(``ReplacingMergeTree``: the newest version of a row wins); delivery attempts are a log.
Incidents and attempts expire with the anomalies' retention (``{ttl:...}`` placeholders
are not used: they stay until an operator prunes them, as the incident memory (table knowledge_base) does).
"""

from __future__ import annotations

TS = "DateTime64(3, 'UTC')"

INCIDENT_MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (40, "incidents", (
        # One row per incident version; ``stored_at`` orders versions (one writer: the incident manager).
        f"""CREATE TABLE IF NOT EXISTS incidents (
            tenant_id String, incident_id String, status LowCardinality(String), severity UInt8,
            opened_at {TS}, updated_at {TS}, resolved_at Nullable({TS}), root_cause String,
            services Array(String), members UInt32, revision UInt32, snapshot String, stored_at {TS}
        ) ENGINE = ReplacingMergeTree(stored_at) ORDER BY (tenant_id, incident_id)""",
        # How far the incident manager has read the anomalies (signals), so a restart resumes there.
        # The manager reads every tenant's: its row has tenant_id '' (the key leads with tenant_id
        # like every other table's).
        f"""CREATE TABLE IF NOT EXISTS incident_cursor (
            tenant_id String, name String, position {TS}, saved_at {TS}
        ) ENGINE = ReplacingMergeTree(saved_at) ORDER BY (tenant_id, name)""",
    )),
    (41, "notification outbox", (
        # Channel configs, secrets included (they must be sent); never answered back unmasked.
        f"""CREATE TABLE IF NOT EXISTS notification_channels (
            tenant_id String, channel_id String, name String, type LowCardinality(String), config String,
            created_at {TS}, deleted UInt8, version {TS}
        ) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant_id, channel_id)""",
        # The durable outbox: one row per (channel, incident state change); its newest version says
        # where delivery stands. ``notification_id`` is the idempotency key receivers dedupe on.
        f"""CREATE TABLE IF NOT EXISTS notification_outbox (
            tenant_id String, notification_id String, channel_id String, incident_id String,
            change_kind LowCardinality(String), seq UInt32, change String, state LowCardinality(String),
            attempts UInt32, first_attempt_at Nullable({TS}), next_attempt_at {TS}, created_at {TS},
            delivered_at Nullable({TS}), last_error String, version {TS}
        ) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant_id, notification_id)""",
        # Every delivery attempt, for the incident's page.
        f"""CREATE TABLE IF NOT EXISTS notification_attempts (
            tenant_id String, incident_id String, notification_id String, channel_id String,
            change_kind LowCardinality(String), attempt UInt32, at {TS}, status_code Int32,
            outcome LowCardinality(String), error String, duration_ms Float64
        ) ENGINE = MergeTree ORDER BY (tenant_id, incident_id, at)""",
    )),
)
