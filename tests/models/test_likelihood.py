"""HTM's anomaly likelihood, held to a plain re-statement of NuPIC's method; calibration; probation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.detectors.likelihood import AnomalyLikelihood, LikelihoodConfig, score_to_tail, tail_to_score


def nupic_likelihood(raw: np.ndarray, values: np.ndarray, learning: int, probation: int, period: int,
                     window: int = 10) -> np.ndarray:
    """NuPIC's AnomalyLikelihood.anomalyProbability, point by point, as its source describes it.

    The history holds every record (the test stays shorter than the history window); each
    estimate re-averages it from its start, skips the learning period, fits a Gaussian
    with NuPIC's floors and the flat-metric rule; each point's tail is filtered against
    the previous one (the previous as re-computed under a fresh estimate).
    """
    def average(scores: list[float]) -> list[float]:
        out, recent = [], []
        for score in scores:
            recent = (recent + [score])[-window:]
            out.append(sum(recent) / len(recent))
        return out

    def tail(x: float, mean: float, stdev: float) -> float:
        if x < mean:
            x = 2 * mean - x
        return 0.5 * math.erfc((x - mean) / stdev / math.sqrt(2.0))

    result, history, distribution, previous = [], [], None, None
    for i, (score, value) in enumerate(zip(raw.tolist(), values.tolist(), strict=True)):
        if i < probation:
            result.append(0.5)
        else:
            if distribution is None or i % period == 0:
                averaged = average([s for s, _ in history])
                kept = np.array(averaged[learning:])
                mean, variance = max(kept.mean(), 0.03), max(kept.var(), 0.0003)
                if np.array([v for _, v in history][learning:]).var() < 1.5e-5:
                    mean, variance = 0.5, 1e6
                distribution = (mean, math.sqrt(variance))
                previous = tail(averaged[-1], *distribution)
            current = tail(average([s for s, _ in history] + [score])[-1], *distribution)
            result.append(1e-3 if current <= 1e-5 and previous <= 1e-5 else current)
            previous = current
        history.append((score, value))
    return np.array(result)


def test_matches_nupic_while_the_history_fits_its_window() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    raw = np.clip(np.abs(rng.normal(0.05, 0.05, n)), 0, 1)
    raw[[1200, 1201, 1202, 2100, 2500, 2501]] = 1.0  # red points, one and several in a row
    raw[1700:1800] = rng.uniform(0.3, 0.6, 100)  # a long surprising stretch
    values = rng.normal(10, 1, n)
    config = LikelihoodConfig(learning=300, probation=600, probation_seconds=0, period=100, blocks=40)
    likelihood = AnomalyLikelihood(config)
    points = np.arange(n, dtype=float)[:, None]
    ours = likelihood.run(likelihood.init_state(1), raw[:, None], values[:, None], points * 60,
                          np.ones((n, 1), dtype=bool))[:, 0]
    reference = nupic_likelihood(raw, values, 300, 600, 100)
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-12)
    assert (ours <= 1e-5).sum() >= 2 and (ours == 1e-3).sum() >= 1  # red points, and the filter at work


def test_a_flat_metric_is_never_surprising() -> None:
    likelihood = AnomalyLikelihood(LikelihoodConfig(probation_seconds=0))
    raw = np.full((2000, 1), 0.01)
    raw[1500] = 1.0
    stamps = np.arange(2000.0)[:, None] * 60
    tail = likelihood.run(likelihood.init_state(1), raw, np.full((2000, 1), 5.0), stamps, np.ones((2000, 1), bool))
    assert tail[600:].min() > 0.49


def test_no_likelihood_before_probation_in_points_and_in_time() -> None:
    config = LikelihoodConfig(learning=100, probation=200, probation_seconds=86400)
    likelihood = AnomalyLikelihood(config)
    n = 3000  # one-minute points: the day ends at point 1440, long after 200 points
    raw = np.abs(np.random.default_rng(1).normal(0, 0.1, (n, 1)))
    raw[1000] = raw[1500] = 1.0
    tail = likelihood.run(likelihood.init_state(1), raw, raw, np.arange(n, dtype=float)[:, None] * 60,
                          np.ones((n, 1), bool))[:, 0]
    assert np.all(tail[:1440] == 0.5) and tail[1500] < 1e-3


def test_scores_are_a_log_scale_of_rarity() -> None:
    assert tail_to_score(np.array([1e-9, 10 ** -9.9])) == pytest.approx([0.9, 0.99])
    assert score_to_tail(0.9) / score_to_tail(0.99) == pytest.approx(10 ** 0.9)
    assert tail_to_score(np.array([0.0, 1.0])).tolist() == [1.0, 0.0]


def test_tail_is_calibrated_on_gaussian_raw_scores() -> None:
    """Averaged iid Gaussian scores: a tail p is reached by about 2p of the points.

    NuPIC's tail is one-sided, taken on whichever side of the mean the average falls, so
    each side contributes p: the stated rarity is per side.
    """
    rng = np.random.default_rng(2)
    n, series = 20_000, 50
    raw = rng.normal(0.5, 0.1, (n, series))
    likelihood = AnomalyLikelihood(LikelihoodConfig(probation_seconds=0))
    tail = likelihood.run(likelihood.init_state(series), raw, raw, np.arange(n, dtype=float)[:, None] * 60 +
                          np.zeros((1, series)), np.ones(raw.shape, bool))[1000:]
    for level in (1e-2, 1e-3):
        assert 1.5 * level < (tail <= level).mean() < 2.5 * level
