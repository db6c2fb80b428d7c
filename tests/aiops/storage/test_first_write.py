"""The overwrite rule on real chDB: a stored point keeps its first value in storage and in the rollup."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops.errors import Unprocessable
from aiops.ingest.batch import series_id
from aiops.ingest.builder import BatchBuilder
from aiops.settings import load_settings
from aiops.storage.first_write import Points, matching
from aiops.storage.store import Store
from tests.properties import STORAGE_PROPERTY

NOW = (int(time.time()) // 60) * 60 - 600  # a whole minute, ten minutes ago
_tenants = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(load_settings(data_dir=tmp_path_factory.mktemp("first-write")))
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def write(store: Store, tenant: str, points: list[tuple[str, int, float]], keep_stored: bool = False):
    """Points ``(series name, seconds after NOW, value)`` as one batch."""
    builder = BatchBuilder(now_ms=int(time.time() * 1000), max_past_seconds=86400, max_future_seconds=300)
    for name in sorted({p[0] for p in points}):
        mine = [p for p in points if p[0] == name]
        builder.add(name, "api", name, {}, np.array([(NOW + p[1]) * 1000 for p in mine]),
                    np.array([p[2] for p in mine]))
    batch = builder.build()
    return store.ingest_batch(tenant, batch.points_table(tenant), batch.series_table(tenant), batch.digest(tenant),
                              1000, keep_stored=keep_stored)


def stored(store: Store, tenant: str) -> dict[tuple[str, int], float]:
    with store._pool.borrow() as client:
        rows = client.query("SELECT metric_name, toUnixTimestamp(ts) - {now:Int64}, value FROM metric_points FINAL "
                            "WHERE tenant_id = {t:String}", parameters={"t": tenant, "now": NOW}).result_rows
    return {(row[0], int(row[1])): float(row[2]) for row in rows}


def rolled_up(store: Store, tenant: str) -> dict[tuple[str, int], tuple[float, int]]:
    with store._pool.borrow() as client:
        rows = client.query("SELECT metric_name, toUnixTimestamp(minute) - {now:Int64}, sum(total), sum(points) "
                            "FROM metric_minutes WHERE tenant_id = {t:String} GROUP BY metric_name, minute",
                            parameters={"t": tenant, "now": NOW}).result_rows
    return {(row[0], int(row[1])): (float(row[2]), int(row[3])) for row in rows}


def test_the_reported_overwrite_is_refused_and_storage_keeps_the_first(store: Store) -> None:
    tenant = f"t{next(_tenants)}"
    assert write(store, tenant, [("cpu", 0, 50.0)]).conflict is None
    refused = write(store, tenant, [("cpu", 0, 500.0), ("cpu", 60, 1.0)])
    assert refused.conflict and "api/cpu" in refused.conflict and "500 differs from the stored 50" in refused.conflict
    assert stored(store, tenant) == {("cpu", 0): 50.0}  # nothing of the refused batch, not even its new point
    again = write(store, tenant, [("cpu", 0, 50.0), ("cpu", 60, 1.0)])  # a re-send, plus a new point
    assert again.conflict is None and again.accepted_points == 1
    assert stored(store, tenant) == {("cpu", 0): 50.0, ("cpu", 60): 1.0}
    assert rolled_up(store, tenant) == {("cpu", 0): (50.0, 1), ("cpu", 60): (1.0, 1)}  # each point counted once


def test_keep_stored_leaves_out_only_the_changed_points(store: Store) -> None:
    """OTLP and the rollups: the points that would change a stored one are left out and named, the rest written."""
    tenant = f"t{next(_tenants)}"
    write(store, tenant, [("cpu", 0, 50.0), ("cpu", 10, 5.0)])
    outcome = write(store, tenant, [("cpu", 0, 500.0), ("cpu", 10, 5.0), ("cpu", 60, 1.0)], keep_stored=True)
    assert outcome.conflict is None and outcome.accepted_points == 1  # the new point; the re-sent one not again
    assert outcome.changed_points.tolist() == [0] and "500 differs from the stored 50" in outcome.change
    assert stored(store, tenant) == {("cpu", 0): 50.0, ("cpu", 10): 5.0, ("cpu", 60): 1.0}
    assert rolled_up(store, tenant) == {("cpu", 0): (55.0, 2), ("cpu", 60): (1.0, 1)}
    assert write(store, tenant, [("cpu", 120, 2.0)], keep_stored=True).changed_points is None


def test_a_batch_may_not_contradict_itself() -> None:
    builder = BatchBuilder(now_ms=int(time.time() * 1000), max_past_seconds=86400, max_future_seconds=300)
    builder.add("s", "api", "cpu", {}, np.array([NOW * 1000] * 2), np.array([1.0, 2.0]))
    with pytest.raises(Unprocessable, match="two values"):
        builder.build()
    builder = BatchBuilder(now_ms=int(time.time() * 1000), max_past_seconds=86400, max_future_seconds=300)
    builder.add("s", "api", "cpu", {}, np.array([NOW * 1000] * 3), np.array([1.0, 1.0, 1.0]))
    assert builder.build().points == 1


def test_concurrent_conflicting_batches_one_wins(store: Store) -> None:
    tenant = f"t{next(_tenants)}"
    outcomes = []
    threads = [threading.Thread(target=lambda v=v: outcomes.append(write(store, tenant, [("cpu", 0, v)])))
               for v in (1.0, 2.0, 3.0, 4.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.conflict is None]
    assert len(winners) == 1 and len(stored(store, tenant)) == 1


def test_matching_finds_each_shared_point() -> None:
    ours = Points(np.array([1, 1, 2], np.uint64), np.array([10, 20, 10]), np.array([0.0, 0.0, 0.0]))
    theirs = Points(np.array([2, 1, 1, 3], np.uint64), np.array([10, 20, 20, 10]), np.array([1.0, 2.0, 2.0, 3.0]))
    mine, twin = matching(ours, theirs)
    assert sorted(zip(mine.tolist(), twin.tolist(), strict=True)) in ([(1, 1), (2, 0)], [(1, 2), (2, 0)])


@pytest.mark.reliability(
    fault="sequences of batches re-sending, overlapping and contradicting earlier points (Hypothesis, real chDB)",
    promise="every stored point keeps its first value; a contradicting batch is refused whole; the per-minute "
            "rollup counts each stored point once",
    kind="10 overwrites",
)
def test_storage_and_rollup_agree_on_first_writes(store: Store, record_property) -> None:
    counts = {"batches": 0, "refused": 0}
    point = st.tuples(st.sampled_from(["cpu", "mem"]), st.sampled_from([0, 10, 60, 70]),
                      st.sampled_from([1.0, 2.0, 1e150]))

    @STORAGE_PROPERTY
    @given(batches=st.lists(st.lists(point, min_size=1, max_size=5), min_size=1, max_size=5))
    def check(batches) -> None:
        tenant = f"t{next(_tenants)}"
        truth: dict[tuple[str, int], float] = {}
        for batch in batches:
            firsts: dict[tuple[str, int], float] = {}
            for name, at, value in batch:
                firsts.setdefault((name, at), value)
            if any(len({v for n, a, v in batch if (n, a) == key}) > 1 for key in firsts):
                continue  # contradicts itself: the builder refuses it (tested above)
            counts["batches"] += 1
            outcome = write(store, tenant, batch)
            conflicting = any(key in truth and truth[key] != value for key, value in firsts.items())
            assert (outcome.conflict is not None) == conflicting, (truth, batch, outcome)
            if conflicting:
                counts["refused"] += 1
            else:
                truth.update({k: v for k, v in firsts.items() if k not in truth})
        assert stored(store, tenant) == truth
        minutes: dict[tuple[str, int], tuple[float, int]] = {}
        for (name, at), value in truth.items():
            total, n = minutes.get((name, at // 60 * 60), (0.0, 0))
            minutes[(name, at // 60 * 60)] = (total + value, n + 1)
        rollup = rolled_up(store, tenant)
        assert set(rollup) == set(minutes)
        for key, (total, n) in minutes.items():
            assert rollup[key][1] == n and rollup[key][0] == pytest.approx(total)
        assert all(np.isfinite(total) for total, _ in minutes.values())

    check()
    record_property("measured", f"{counts['batches']} batches in generated sequences, {counts['refused']} refused "
                                "for contradicting a stored point; storage and rollup equal the first writes")


def test_series_ids_are_stable() -> None:
    assert series_id("api", "cpu", {}) == series_id("api", "cpu", {})
