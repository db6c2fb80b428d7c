"""Every registered detector passes the same checks (river's conformance idea), alone and
wrapped in the per-series :class:`~models.detectors.threshold.ThresholdFilter`."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from models.detectors.base import Scores
from models.detectors.threshold import MAX_THRESHOLD, ThresholdFilter
from models.registry import build, entries

DETECTORS = [entry.name for entry in entries("detector")]
# Configs that let each model score after a short history (the run-vs-step check has 400 steps).
QUICK = {
    "artime": {"probation": 150, "value_range": (0.0, 60.0)},  # as NAB runs it: range known up front
    "contextual": {"probation": 100, "value_range": (0.0, 60.0)},
    "seasonal_likelihood": {"likelihood": {"learning": 50, "probation": 100, "probation_seconds": 0}, "rest": 0},
    "calibrated": {"likelihood": {"learning": 50, "probation": 100, "probation_seconds": 0},
                   "members": [{"detector": "seasonal", "config": {"warmup": 20}}]},
    # A block member on hourly blocks that speaks after a few of them: the 400 steps exercise it.
    "seasonal_multiscale": {
        "likelihood": {"learning": 50, "probation": 100, "probation_seconds": 0, "red_filter": False}, "rest": 0,
        "members": [{"detector": "seasonal", "signal": "z", "clip": 10.0, "window": 20, "config": {"warmup": 20}},
                    {"detector": "seasonal", "signal": "z", "clip": 10.0, "window": 5, "resample_seconds": 3600,
                     "config": {"slot_seconds": 3600, "warmup": 4},
                     "likelihood": {"learning": 4, "probation": 8, "probation_seconds": 0, "period": 4}}]},
}


def series(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    stamps = np.arange(n) * 300.0
    values = 20 + 5 * np.sin(2 * np.pi * stamps / 86400) + rng.normal(0, 1, n)
    values[1300] += 25
    return values, stamps


@pytest.mark.parametrize("name", DETECTORS)
def test_scores_are_bounded_causal_and_repeatable(name: str) -> None:
    values, stamps = series()
    original = values.copy()
    first = build("detector", name).score_series(values, stamps)
    again = build("detector", name).score_series(values, stamps)
    prefix = build("detector", name).score_series(values[:1200], stamps[:1200])
    assert np.array_equal(values, original)  # input left alone
    assert np.all((first.score >= 0) & (first.score <= 1)) and np.all(np.isfinite(first.z_score))
    np.testing.assert_array_equal(first.score, again.score)
    np.testing.assert_array_equal(first.score[:1200], prefix.score)  # no look-ahead


@pytest.mark.parametrize("name", DETECTORS)
def test_state_pickles_grows_and_series_are_independent(name: str) -> None:
    detector = build("detector", name)
    values, stamps = series()
    state = detector.init_state(2)
    both = np.ones(2, dtype=bool)
    only_first = np.array([True, False])
    for i in range(600):
        detector.step(state, np.array([values[i], values[i] * 3]), np.full(2, stamps[i]), both)
    copy = pickle.loads(pickle.dumps(state))
    grown = detector.grow(copy, 5)
    assert all(array.shape[0] == 5 for array in grown.values())
    for key in state:
        np.testing.assert_array_equal(grown[key][:2], state[key])
    before = {key: array[1].copy() for key, array in state.items()}
    result = detector.step(state, np.array([values[600], 0.0]), np.full(2, stamps[600]), only_first)
    assert result.score[1] == 0
    for key in state:
        np.testing.assert_array_equal(state[key][1], before[key])  # an inactive series is untouched


@pytest.mark.parametrize("name", DETECTORS)
def test_many_steps_at_once_equal_the_steps_one_by_one(name: str) -> None:
    """``run`` (a model's fast path, e.g. a compiled loop) must be ``step`` repeated, exactly."""
    detector = build("detector", name, QUICK.get(name, {"warmup": 20}))
    rng = np.random.default_rng(3)
    steps, width = 400, 23
    stamps = 1.7e9 + np.cumsum(rng.integers(1, 900, size=(steps, width)), axis=0).astype(float)
    values = 10 + 5 * np.sin(2 * np.pi * stamps / 86400) + rng.normal(0, 1, (steps, width))
    values[250, 4] += 40
    active = rng.random((steps, width)) > 0.15  # gaps: a series sits out some steps
    active[250, 4] = True
    fast, reference = detector.init_state(width), detector.init_state(width)
    got = detector.run(fast, values, stamps, active)
    want = Scores(np.zeros(values.shape), np.zeros(values.shape))
    for t in range(steps):
        one = detector.step(reference, values[t], stamps[t], active[t])
        want.score[t], want.z_score[t] = one.score, one.z_score
    np.testing.assert_array_equal(got.score, want.score)
    np.testing.assert_array_equal(got.z_score, want.z_score)
    assert got.score[~active].max() == 0 and got.score[250, 4] >= detector.config.threshold
    for key in reference:
        np.testing.assert_array_equal(fast[key], reference[key])


@pytest.mark.parametrize("name", DETECTORS)
def test_a_thresholded_detector_continues_the_same_from_a_checkpoint(name: str) -> None:
    """State and per-series thresholds through a checkpoint (npz, no pickle, as the watchdog
    writes them): the restored pair scores and decides exactly as the original goes on to."""
    detector = build("detector", name, QUICK.get(name, {"warmup": 20}))
    values, stamps = series()
    width = 3
    matrix = np.column_stack([values, values * 2 + 1, values[::-1]])
    times = np.repeat(stamps[:, None], width, axis=1)
    active = np.ones(matrix.shape, dtype=bool)
    state, gate = detector.init_state(width), ThresholdFilter(detector, size=width)
    detector.run(state, matrix[:1000], times[:1000], active[:1000])
    for verdict in ("false_positive", "false_positive", "true_positive"):
        gate.feedback(1, verdict)
    gate.feedback(2, "false_positive")
    assert gate.base < gate.thresholds[2] < gate.thresholds[1] < MAX_THRESHOLD and gate.thresholds[0] == gate.base

    buffer = io.BytesIO()
    np.savez_compressed(buffer, threshold=gate.to_array(), **{f"state.{k}": v for k, v in state.items()})
    with np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False) as saved:
        restored_state = {k.removeprefix("state."): saved[k].copy() for k in saved.files if k.startswith("state.")}
        restored = ThresholdFilter.from_array(build("detector", name, QUICK.get(name, {"warmup": 20})),
                                              saved["threshold"])

    rows = np.arange(width)
    went_on = detector.run(state, matrix[1000:], times[1000:], active[1000:])
    came_back = restored.detector.run(restored_state, matrix[1000:], times[1000:], active[1000:])
    np.testing.assert_array_equal(came_back.score, went_on.score)
    np.testing.assert_array_equal(restored.thresholds, gate.thresholds)
    np.testing.assert_array_equal(restored.anomalous(came_back.score, rows), gate.anomalous(went_on.score, rows))
    # The filter reads scores, never changes them: a series at the base threshold decides as the detector does.
    np.testing.assert_array_equal(gate.anomalous(went_on.score, rows)[:, 0], detector.is_anomaly(went_on)[:, 0])


@pytest.mark.parametrize("name", DETECTORS)
def test_config_rejects_unknown_keys(name: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        build("detector", name, {"no_such_setting": 1})


@pytest.mark.parametrize("name", DETECTORS)
def test_bad_numbers_never_poison_state(name: str) -> None:
    """NaN is a missing point; ±inf and 1e300 are flagged; nothing after them turns NaN."""
    detector = build("detector", name, QUICK.get(name, {"warmup": 20}))
    values, stamps = series(1500, seed=5)
    values[1300] = 20.0  # the planted spike goes: only the bad numbers differ from normal
    bad = {700: np.nan, 800: np.inf, 900: -np.inf, 1000: 1e300, 1100: -1e300}
    for at, value in bad.items():
        values[at] = value
    state = detector.init_state(1)
    result = detector.run(state, values[:, None], stamps[:, None], np.ones((values.size, 1), dtype=bool))
    score, z = result.score[:, 0], result.z_score[:, 0]
    assert np.all(np.isfinite(score)) and np.all(np.isfinite(z))
    assert np.all((score >= 0) & (score <= 1))
    assert score[700] == 0.0 and z[700] == 0.0  # a missing point
    for at in (800, 900, 1000, 1100):
        assert score[at] == 1.0 and np.sign(z[at]) == np.sign(values[at])
    for key, array in state.items():
        assert np.all(np.isfinite(array)), key
    # And a step with the same values gives the same answers.
    state = detector.init_state(1)
    for t in (0, 700, 800, 1000):
        one = detector.step(state, values[t:t + 1], stamps[t:t + 1], np.ones(1, dtype=bool))
        assert np.isfinite(one.score).all() and np.isfinite(one.z_score).all()


@pytest.mark.parametrize("module", sorted({entry.target.partition(":")[0] for entry in entries("detector")}))
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
