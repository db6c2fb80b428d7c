"""The default's block member: block means without look-ahead, slow changes found, a shift alarmed once."""

from __future__ import annotations

import numpy as np
import pytest

from models.detectors.resample_kernel import close_blocks
from models.registry import build

DAY = 86400
STEP = 300.0


def daily(days: int, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    stamps = np.arange(0, days * DAY, STEP)
    noise_points = np.random.default_rng(seed).normal(0, noise, stamps.size)
    return 50 + 20 * np.sin(2 * np.pi * stamps / DAY) + noise_points, stamps


def test_a_block_is_reported_at_the_first_point_after_it_with_its_mean_and_centre() -> None:
    rng = np.random.default_rng(0)
    stamps = np.sort(rng.uniform(0, 10 * 3600, 300))[:, None]  # irregular points over ten hours
    values = rng.normal(0, 1, stamps.shape)
    state = [np.zeros(1) for _ in range(3)]
    # Two calls (the stream cut anywhere) give what one call gives.
    first = close_blocks(*state, values[:170], stamps[:170], np.ones((170, 1), bool), 3600.0)
    second = close_blocks(*state, values[170:], stamps[170:], np.ones((130, 1), bool), 3600.0)
    closed, means, centres = (np.concatenate([a, b]) for a, b in zip(first, second, strict=True))
    hours = np.floor(stamps[:, 0] / 3600)
    at = np.flatnonzero(closed[:, 0])
    assert hours[at].tolist() == list(range(1, 10))  # each hour closes when the next one's first point comes
    for point, hour in zip(at, range(9), strict=True):
        assert means[point, 0] == pytest.approx(values[hours == hour, 0].mean())
        assert centres[point, 0] == hour * 3600 + 1800
        assert hours[point - 1] == hour  # nothing after the block was read before it was reported


def test_a_slow_change_the_point_members_miss_is_found_after_two_weeks_of_blocks() -> None:
    values, stamps = daily(35, seed=1, noise=3.0)
    values[30 * 288:] += np.linspace(0, 6, values.size - 30 * 288)  # one sigma more each day
    multiscale = build("detector", "seasonal_multiscale")
    points_only = build("detector", "seasonal_multiscale", {"members": [m.model_dump() for m in
                                                                        multiscale.config.members[:2]]})
    found = np.flatnonzero(multiscale.score_series(values, stamps).score >= multiscale.config.threshold)
    missed = points_only.score_series(values, stamps).score >= points_only.config.threshold
    assert found.size and found.min() > 30 * 288 and not missed.any()
    judged = multiscale.judge(multiscale.init_state(1), values[:, None], stamps[:, None],
                              np.ones((values.size, 1), bool))
    spoke = np.flatnonzero(judged.coarse[:, 0] > 0)
    assert spoke.min() >= 14 * 288  # two weeks of 6-hour blocks before the block member says anything


@pytest.mark.parametrize("shift", [8.0, -8.0, 60.0])
def test_after_weeks_of_history_a_level_shift_still_alarms_once(shift: float) -> None:
    """The block member sees the shift at its block's end too; the shift's own alarm silences it."""
    values, stamps = daily(34, seed=2)
    values[30 * 288:] += shift
    detector = build("detector", "seasonal_multiscale")
    judged = detector.judge(detector.init_state(1), values[:, None], stamps[:, None],
                            np.ones((values.size, 1), bool))
    after = slice(30 * 288, None)
    assert judged.coarse[after].max() >= detector.config.threshold  # the block member would alarm ...
    alarms = np.flatnonzero(detector.score_series(values, stamps).score >= detector.config.threshold)
    assert alarms.tolist() == alarms[:1].tolist() and 30 * 288 <= alarms[0] <= 30 * 288 + 20  # ... but once
