"""The storage layer on real embedded ClickHouse (chDB)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.settings import load_settings
from aiops.storage.client import open_client
from aiops.storage.migrations import EXPIRING_TABLES, MIGRATIONS, migrate
from aiops.storage.records import TenantRecord
from aiops.storage.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(load_settings(data_dir=tmp_path))
    store.migrate()
    try:
        yield store
    finally:
        store.close()  # chDB: one path per process at a time


def tenant(tenant_id: str, created: datetime | None = None) -> TenantRecord:
    return TenantRecord(
        tenant_id=tenant_id, name=tenant_id.title(), plan="pro",
        contact_email=f"ops@{tenant_id}.example", created_at=created or datetime.now(UTC),
    )


def test_migrations_are_recorded_and_idempotent(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    client = open_client(settings.dsn)
    try:
        assert migrate(client, settings.retention) == [m.version for m in MIGRATIONS]
        assert migrate(client, settings.retention) == []
        recorded = client.query("SELECT version FROM schema_migrations ORDER BY version").result_rows
        assert [row[0] for row in recorded] == [m.version for m in MIGRATIONS]
        tables = {row[0] for row in client.query("SHOW TABLES").result_rows}
        assert {"tenants", "api_keys", "metric_points", "anomalies", "rca_results", "correlation_edges",
                "alerts", "knowledge_base", "tenant_usage", "series", "ingested_batches"} <= tables
        for name in tables - {"schema_migrations"}:
            engine, sorting_key = client.query(
                "SELECT engine, sorting_key FROM system.tables "
                "WHERE database = currentDatabase() AND name = {n:String}",
                parameters={"n": name},
            ).result_rows[0]
            if engine == "MaterializedView":
                continue
            assert sorting_key.startswith("tenant_id"), f"{name} sort key {sorting_key!r}"
    finally:
        client.close()


def test_retention_follows_settings(tmp_path: Path) -> None:
    client = open_client(load_settings(data_dir=tmp_path).dsn)
    try:
        migrate(client, load_settings(data_dir=tmp_path).retention)
        shorter = load_settings(data_dir=tmp_path, retention={"metric_points_days": 7})
        migrate(client, shorter.retention)
        engine_full = {
            row[0]: row[1]
            for row in client.query(
                "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()"
            ).result_rows
        }
        assert "toIntervalDay(7)" in engine_full["metric_points"]
        assert "toIntervalDay(365)" in engine_full["anomalies"]
        for expiring in EXPIRING_TABLES:  # by month, or by day where rows live a week (spans, logs)
            assert "PARTITION BY toYYYYMM" in engine_full[expiring.table] or \
                "PARTITION BY toDate" in engine_full[expiring.table], expiring.table
    finally:
        client.close()


def test_tenant_round_trip(store: Store) -> None:
    created = datetime(2026, 1, 15, tzinfo=UTC)
    assert store.create_tenant(tenant("acme-corp", created)) is True
    assert store.create_tenant(tenant("beta")) is True
    fetched = store.get_tenant("acme-corp")
    assert fetched is not None
    assert fetched.name == "Acme-Corp"
    assert fetched.created_at == created
    assert fetched.events_this_month == 0
    assert [t.tenant_id for t in store.list_all_tenants()] == ["acme-corp", "beta"]
    assert store.get_tenant("nobody") is None


def test_duplicate_tenant_is_refused_and_changes_nothing(store: Store) -> None:
    assert store.create_tenant(tenant("acme")) is True
    original = store.get_tenant("acme")
    again = TenantRecord(tenant_id="acme", name="Impostor", plan="free", contact_email="", created_at=datetime.now(UTC))
    assert store.create_tenant(again) is False
    assert store.get_tenant("acme") == original


def test_hostile_ids_are_data_not_sql(store: Store) -> None:
    assert store.get_tenant("x' OR 1=1 --") is None
    store.create_tenant(tenant("acme"))
    assert store.get_tenant("acme' --") is None


def test_anomaly_count_is_per_tenant(store: Store) -> None:
    now = datetime.now(UTC)
    with store._pool.borrow() as client:  # seed rows the watchdog would write
        client.insert(
            "anomalies",
            [["acme", f"anom-{i}", "api", "cpu", 1, {}, "watchdog", "robust", 0.9, 4.0,
              now - timedelta(minutes=10 * i), now, 0, 0, "", now] for i in range(3)]
            + [["other", "anom-x", "api", "cpu", 1, {}, "watchdog", "robust", 0.9, 4.0, now, now, 0, 0, "", now]],
            column_names=["tenant_id", "anomaly_id", "service_id", "metric_name", "series_id", "labels", "source",
                          "model", "anomaly_score", "z_score", "detected_at", "last_seen_at", "rca_triggered",
                          "resolved", "feedback", "updated_at"],
        )
    hour_ago = now - timedelta(hours=1)
    assert store.count_anomalies_since(hour_ago, "acme") == 3
    assert store.count_anomalies_since(now - timedelta(minutes=15), "acme") == 2
    assert store.count_anomalies_since(hour_ago, "other") == 1
    assert store.count_anomalies_since(hour_ago, None) == 4


def test_ping_reports_clickhouse_version(store: Store) -> None:
    assert store.ping().split(".")[0].isdigit()


def test_the_backlog_names_only_tenants_with_something_to_embed(store: Store) -> None:
    from aiops.storage.records import Resolution

    now = datetime.now(UTC)

    def resolution(tenant_id: str, resolution_id: str, model: str) -> Resolution:
        return Resolution(tenant_id=tenant_id, resolution_id=resolution_id, incident_id=resolution_id, service_id="db",
                               resolution="restarted the pool", resolved_by="ops", time_to_recovery_minutes=5.0,
                               tags=[], created_at=now, embedding=[0.1] * 3 if model else [], embedding_model=model)

    assert store.resolution_backlog_tenants("minilm") == []
    assert not store.has_resolutions("done")
    store.save_resolution(resolution("done", "kb-1", "minilm"))  # embedded by the default model
    assert store.has_resolutions("done") and not store.has_resolutions("fresh")
    store.save_resolution(resolution("fresh", "kb-2", ""))  # not embedded yet
    store.save_resolution(resolution("swapped", "kb-3", "minilm"))  # embedded, then the tenant chose another
    store.choose_model("swapped", "embedder", "hashed_ngrams", "{}", "admin", now)
    store.save_resolution(resolution("chose", "kb-4", "hashed_ngrams"))  # embedded by its chosen model
    store.choose_model("chose", "embedder", "hashed_ngrams", "{}", "admin", now)
    assert store.resolution_backlog_tenants("minilm") == ["fresh", "swapped"]
    store.save_resolution(resolution("fresh", "kb-2", "minilm"))  # a new version, now embedded
    assert store.resolution_backlog_tenants("minilm") == ["swapped"]


def test_the_rca_queue_takes_waited_for_requests_first(store: Store) -> None:
    from aiops.storage.records import WAITED_FOR

    at = datetime.now(UTC) - timedelta(minutes=5)
    store.request_rcas("t1", ["watchdog-old", "watchdog-older"], at - timedelta(seconds=1))
    store.request_rcas("t1", ["watchdog-new"], at + timedelta(seconds=1))
    store.request_rcas("t2", ["alert"], at, WAITED_FOR)
    queue = store.rca_queue_all_tenants(10)
    ids = [r.anomaly_id for r in queue]
    # The waited-for one first though it is not the oldest; then oldest first.
    assert ids[0] == "alert" and set(ids[1:3]) == {"watchdog-old", "watchdog-older"} and ids[3] == "watchdog-new"
    # Claiming and finishing keep the priority (a whole-row update).
    claimed = next(r for r in queue if r.anomaly_id == "alert")
    store.save_rca(replace(claimed, status="running", attempts=1, updated_at=datetime.now(UTC)))
    assert store.get_rca("t2", "alert").priority == WAITED_FOR
    assert store.rca_queue_all_tenants(10)[0].anomaly_id == "alert"
    # Asking again never re-queues nor changes what is there.
    assert store.request_rcas("t2", ["alert"], datetime.now(UTC)) == 0
