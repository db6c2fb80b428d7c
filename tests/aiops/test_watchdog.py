"""TenantWatch: streaming detection, episodes, replays, checkpoints and feedback."""

from __future__ import annotations

import numpy as np
import pytest

from aiops.ingest.batch import PointBatch
from aiops.settings import load_settings
from aiops.watchdog import TenantWatch

DAY = 86400
START_MS = 1_775_000_000_000
DEFAULT = load_settings().watchdog.detector


def seasonal_batch(points: int, *, spike_at: int | None = None, series: int = 1, seed: int = 0,
                   first: int = 0) -> PointBatch:
    """``series`` daily-seasonal series at 5-minute steps, points ``first .. first+points``."""
    rng = np.random.default_rng(seed)
    steps = np.arange(first, first + points)
    t_ms = START_MS + steps * 300_000
    values, index, stamps = [], [], []
    for s in range(series):
        v = 50 + 20 * np.sin(2 * np.pi * (t_ms / 1000) / DAY + s) + rng.normal(0, 1, points)
        if spike_at is not None and s == 0 and first <= spike_at < first + points:
            v[spike_at - first] += 25
        values.append(v)
        index.append(np.full(points, s, np.int32))
        stamps.append(t_ms)
    return PointBatch(
        service_ids=[f"svc-{s}" for s in range(series)], metric_names=["cpu"] * series,
        labels=[{"pod": str(s)} for s in range(series)], series_ids=np.arange(1, series + 1, dtype=np.uint64),
        series_index=np.concatenate(index), timestamps_ms=np.concatenate(stamps).astype(np.int64),
        values=np.concatenate(values),
    )


def test_planted_spike_on_a_seasonal_series_is_one_episode() -> None:
    watch = TenantWatch("acme", DEFAULT)
    spike = 3 * 288 + 100  # three days in
    found = watch.observe(seasonal_batch(4 * 288, spike_at=spike, series=3)).anomalies
    assert len(found) == 1
    anomaly = found[0]
    assert (anomaly.service_id, anomaly.metric_name, anomaly.labels) == ("svc-0", "cpu", {"pod": "0"})
    assert anomaly.detected_at.timestamp() * 1000 == START_MS + spike * 300_000
    assert anomaly.anomaly_score >= 0.9 and anomaly.z_score > 5
    assert anomaly.source == "watchdog" and anomaly.model == DEFAULT
    assert anomaly.anomaly_id.startswith("anom-")


def test_a_quiet_series_raises_nothing() -> None:
    watch = TenantWatch("acme", DEFAULT)
    assert watch.observe(seasonal_batch(4 * 288, series=5, seed=3)).anomalies == []


def test_batches_in_pieces_equal_one_batch_and_replays_are_skipped() -> None:
    whole = TenantWatch("acme", DEFAULT)
    pieces = TenantWatch("acme", DEFAULT)
    spike = 2 * 288 + 7
    expected = whole.observe(seasonal_batch(3 * 288, spike_at=spike)).anomalies
    got = []
    for first in range(0, 3 * 288, 100):
        batch = seasonal_batch(min(100, 3 * 288 - first), spike_at=spike, first=first)
        got += pieces.observe(batch).anomalies
        assert pieces.observe(batch).fresh_points == 0  # a retry is seen once
    assert [a.anomaly_id for a in got] == [a.anomaly_id for a in expected]
    assert pieces.points_seen == whole.points_seen == 3 * 288


def test_a_long_series_among_many_short_ones_is_scored_in_bounded_chunks() -> None:
    """One series of 1,152 points and 300 of 1-3 points: chunked runs equal one big run."""
    long = seasonal_batch(4 * 288, spike_at=3 * 288 + 100)
    shorts = 300
    lengths = np.arange(shorts) % 3 + 1
    short_index = np.repeat(np.arange(1, shorts + 1), lengths).astype(np.int32)
    short_ts = START_MS + 4 * 288 * 300_000 - np.concatenate([np.arange(n)[::-1] for n in lengths]) * 300_000
    batch = PointBatch(
        service_ids=["svc-long"] + [f"svc-{s}" for s in range(shorts)], metric_names=["cpu"] * (shorts + 1),
        labels=[{}] * (shorts + 1), series_ids=np.arange(1, shorts + 2, dtype=np.uint64),
        series_index=np.concatenate([long.series_index, short_index]),
        timestamps_ms=np.concatenate([long.timestamps_ms, short_ts]).astype(np.int64),
        values=np.concatenate([long.values, np.full(short_index.size, 7.0)]))
    roomy, tight = TenantWatch("acme", DEFAULT), TenantWatch("acme", DEFAULT)
    tight.RUN_CELLS = 64  # forces one-step chunks while 301 series step, then chunks of the long one
    expected, got = roomy.observe(batch).anomalies, tight.observe(batch).anomalies
    assert [(a.anomaly_id, a.anomaly_score) for a in got] == [(a.anomaly_id, a.anomaly_score) for a in expected]
    assert any(a.service_id == "svc-long" for a in got)
    assert tight.points_seen == roomy.points_seen == 4 * 288 + int(lengths.sum())
    for key in roomy.state:
        np.testing.assert_array_equal(tight.state[key], roomy.state[key])


def test_checkpoint_restores_the_same_future() -> None:
    live = TenantWatch("acme", DEFAULT)
    live.observe(seasonal_batch(3 * 288))
    restored = TenantWatch.restore("acme", live.checkpoint())
    assert restored.size == live.size and restored.newest_ms == live.newest_ms
    later = seasonal_batch(288, spike_at=3 * 288 + 50, first=3 * 288, seed=7)
    a, b = live.observe(later).anomalies, restored.observe(later).anomalies
    assert [x.anomaly_id for x in a] == [x.anomaly_id for x in b] and len(a) == 1
    for key in live.state:
        np.testing.assert_allclose(live.state[key], restored.state[key])


def test_false_positive_feedback_raises_that_series_threshold_within_bounds() -> None:
    watch = TenantWatch("acme", DEFAULT)
    watch.observe(seasonal_batch(10, series=2))
    base = watch.detector.config.threshold
    thresholds = [watch.feedback(1, "false_positive") for _ in range(40)]
    assert thresholds[0] > base and all(b >= a for a, b in zip(thresholds, thresholds[1:], strict=False))
    assert thresholds[-1] <= 0.995
    assert watch.threshold[1] == pytest.approx(base)  # the other series is untouched
    assert watch.feedback(1, "true_positive") < thresholds[-1]
    assert watch.feedback(999, "false_positive") is None


def shifted_batch(points: int, shift_at: int, shift: float, seed: int = 0) -> PointBatch:
    """One daily-seasonal series at 5-minute steps whose level moves by ``shift`` at ``shift_at``."""
    rng = np.random.default_rng(seed)
    t_ms = START_MS + np.arange(points) * 300_000
    values = 50 + 20 * np.sin(2 * np.pi * (t_ms / 1000) / DAY) + rng.normal(0, 1, points)
    values[shift_at:] += shift
    return PointBatch(service_ids=["svc"], metric_names=["cpu"], labels=[{}], series_ids=np.ones(1, np.uint64),
                      series_index=np.zeros(points, np.int32), timestamps_ms=t_ms.astype(np.int64), values=values)


@pytest.mark.parametrize("shift", [8.0, -8.0, 60.0])
def test_a_level_shift_is_one_episode_and_the_level_is_relearnt(shift: float) -> None:
    """A shift inside the daily range (±8, 8 sigmas) or far beyond it: one anomaly, then quiet."""
    watch = TenantWatch("acme", DEFAULT)
    shift_at = 4 * 288
    found = watch.observe(shifted_batch(8 * 288, shift_at, shift)).anomalies
    assert len(found) == 1
    detected = (found[0].detected_at.timestamp() * 1000 - START_MS) / 300_000
    assert shift_at <= detected <= shift_at + 20
    assert np.sign(found[0].z_score) == np.sign(shift)
    # Re-learnt: a day later, the next points of the shifted series score as normal.
    later = TenantWatch.restore("acme", watch.checkpoint())
    following = shifted_batch(9 * 288, shift_at, shift)
    rows = slice(8 * 288, 9 * 288)
    tail = PointBatch(following.service_ids, following.metric_names, following.labels, following.series_ids,
                      following.series_index[rows], following.timestamps_ms[rows], following.values[rows])
    assert later.observe(tail).anomalies == []


def test_bad_numbers_reach_the_watchdog_without_poisoning_it() -> None:
    watch = TenantWatch("acme", DEFAULT)
    batch = seasonal_batch(4 * 288, series=1)
    batch.values[3 * 288 + 10] = np.nan
    batch.values[3 * 288 + 20] = 1e300
    found = watch.observe(batch).anomalies
    assert [round((a.detected_at.timestamp() * 1000 - START_MS) / 300_000) for a in found] == [3 * 288 + 20]
    assert found[0].anomaly_score == 1.0 and np.isfinite(found[0].z_score)
    assert all(np.isfinite(array).all() for array in watch.state.values())
    assert watch.observe(seasonal_batch(288, series=1, first=4 * 288)).anomalies == []


def test_an_episode_closes_after_close_after_quiet_points_and_not_before() -> None:
    """Episodes close on quiet *points* of their series (``watchdog.close_after``), not on wall time:
    fewer quiet points and the next anomalous point grows the same episode; that many and it opens
    a new one. Anomalous or quiet is forced through the series' threshold (scores are in [0, 1])."""
    watch = TenantWatch("acme", DEFAULT, close_after=3)
    hot, cold = 0.0, 1.5
    position = 0

    def feed(points: int, threshold: float) -> list:
        nonlocal position
        watch.gate.grow(1)
        watch.gate.thresholds[0] = threshold
        found = watch.observe(seasonal_batch(points, first=position)).anomalies
        position += points
        return found

    [opened] = feed(2, hot)
    assert opened.detected_at.timestamp() * 1000 == START_MS
    assert feed(2, cold) == []  # two quiet points: still open
    [grown] = feed(1, hot)
    assert grown.anomaly_id == opened.anomaly_id and grown.last_seen_at > opened.last_seen_at
    assert feed(3, cold) == [] and watch.episodes == {}  # three quiet points: closed
    [fresh] = feed(1, hot)
    assert fresh.anomaly_id != opened.anomaly_id
    assert fresh.detected_at.timestamp() * 1000 == START_MS + (position - 1) * 300_000
