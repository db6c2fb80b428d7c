"""RCA frames from the per-minute rollup: the same averages as the raw points, retries counted once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from aiops.ingest.builder import BatchBuilder
from aiops.settings import load_settings
from aiops.storage.client import open_client
from aiops.storage.migrations import MIGRATIONS, migrate, render
from aiops.storage.store import Store

MINUTE = 60


def batch_of(end: int, minutes: int, seed: int):
    """Two services, three pods each, a point every 10 s (six per minute) with noise."""
    rng = np.random.default_rng(seed)
    builder = BatchBuilder(now_ms=int(time.time() * 1000), max_past_seconds=86400, max_future_seconds=300)
    stamps = np.arange(end - minutes * MINUTE, end, 10)
    for service, level in (("api", 100.0), ("db", 5.0)):
        for pod in range(3):
            values = level + pod + rng.normal(0, 1, stamps.size)
            builder.add(f"{service}/{pod}", service, "latency_ms", {"pod": str(pod)}, stamps * 1000, values)
    return builder.build(), stamps


def raw_means(store: Store, tenant: str, since: int, until: int, step: int) -> dict[tuple[str, float], float]:
    with store._pool.borrow() as client:
        rows = client.query(
            "SELECT service_id, toUnixTimestamp(toStartOfInterval(ts, toIntervalSecond({step:UInt32}))) AS at, "
            "avg(value) FROM metric_points FINAL WHERE tenant_id = {t:String} AND ts >= {s:DateTime64(3, 'UTC')} "
            "AND ts < {u:DateTime64(3, 'UTC')} GROUP BY service_id, at",
            parameters={"t": tenant, "s": datetime.fromtimestamp(since, UTC), "u": datetime.fromtimestamp(until, UTC),
                        "step": step},
        ).result_rows
    return {(service, float(at)): value for service, at, value in rows}


def frame_means(store: Store, tenant: str, since: int, until: int, step: int) -> dict[tuple[str, float], float]:
    at, services, _, values = store.metric_frame(tenant, datetime.fromtimestamp(since, UTC),
                                                 datetime.fromtimestamp(until, UTC), step, 100)
    return {(service, float(a)): float(v) for a, service, v in zip(at, services, values, strict=True)}


def test_rollup_frames_match_the_raw_points_and_retries_count_once(tmp_path: Path) -> None:
    store = Store(load_settings(data_dir=tmp_path))
    store.migrate()
    try:
        end = (int(time.time()) // 3600) * 3600
        batch, _ = batch_of(end, 30, seed=1)
        for _ in range(2):  # a client retry of the same batch
            store.ingest_batch("t1", batch.points_table("t1"), batch.series_table("t1"), batch.digest("t1"), 100)
        other, _ = batch_of(end, 30, seed=2)  # another tenant's points must not leak into t1's frame
        store.ingest_batch("t2", other.points_table("t2"), other.series_table("t2"), other.digest("t2"), 100)
        since, until = end - 30 * MINUTE, end
        for step in (60, 300):
            expected, got = raw_means(store, "t1", since, until, step), frame_means(store, "t1", since, until, step)
            assert set(got) == set(expected) and len(got) == 2 * 30 * MINUTE // step
            assert all(abs(got[key] - expected[key]) < 1e-9 for key in expected)
        with store._pool.borrow() as client:
            counted = client.query("SELECT sum(points) FROM metric_minutes WHERE tenant_id = 't1'").result_rows[0][0]
        assert counted == batch.points  # the retry was not counted again
    finally:
        store.close()


def test_migration_fills_the_rollup_from_points_stored_before_it(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    client = open_client(settings.dsn)
    try:
        for migration in MIGRATIONS:  # the schema as it was before the rollup existed
            if migration.version < 7:
                for statement in migration.statements:
                    client.command(render(statement, settings.retention))
        end = (int(time.time()) // 3600) * 3600
        batch, _ = batch_of(end, 10, seed=3)
        client.insert_arrow("metric_points", batch.points_table("t1"))
        migrate(client, settings.retention)
        rows = client.query("SELECT service_id, sum(points), sum(total) / sum(points) FROM metric_minutes "
                            "WHERE tenant_id = 't1' GROUP BY service_id ORDER BY service_id").result_rows
        assert [(service, count) for service, count, _ in rows] == [("api", 3 * 60), ("db", 3 * 60)]
        assert 100 < rows[0][2] < 103 and 5 < rows[1][2] < 8
    finally:
        client.close()
