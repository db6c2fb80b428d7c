"""Leave-one-category-out selection: each fold chooses on the others; the folds make one score."""

from __future__ import annotations

import numpy as np
import pytest

from aiops.evaluation.nab_data import Series
from aiops.evaluation.selection import Candidate, Grid, evaluate, rest_applied, select

T0 = np.datetime64("2020-01-01T00:00", "s")


def corpus() -> tuple[list[Series], dict]:
    """Three categories of one 200-row file each; categories a and b have one window, c none."""
    stamps = T0 + np.arange(200) * np.timedelta64(300, "s")
    window = [(stamps[120], stamps[139])]
    series = [Series(f"{c}/f.csv", stamps, np.zeros(200)) for c in "abc"]
    return series, {"a/f.csv": window, "b/f.csv": window, "c/f.csv": []}


def grid(name: str, raw: list[list[float]], clean: list[float]) -> Grid:
    return Grid(Candidate(name, "calibrated"), np.array(raw, dtype=float), np.array(clean, dtype=float))


THRESHOLDS = np.array([0.4, 0.6])


def test_each_fold_chooses_on_the_other_categories_and_folds_sum_to_one_score() -> None:
    series, labels = corpus()
    # Rows: thresholds; columns: categories a, b, c (raw NAB scores).
    good_on_a = grid("good on a", [[0.9, -1.0, -0.2], [0.5, -1.0, 0.0]], [0.1, 0.1])
    good_on_b = grid("good on b", [[-1.0, 0.8, -0.3], [-1.0, 0.4, 0.0]], [0.1, 0.1])
    report = select([good_on_a, good_on_b], series, labels, THRESHOLDS)
    by_held = {fold.held_out: fold for fold in report.folds}
    # Holding a out, b's candidate wins on b + c; a is then scored by it (-1.0: missed).
    assert by_held["a"].choice.name == "good on b" and by_held["a"].held_out_raw == -1.0
    assert by_held["b"].choice.name == "good on a" and by_held["b"].held_out_raw == -1.0
    assert by_held["c"].held_out_score is None  # no windows: only its raw score counts
    null, perfect = -2.0, 2.0  # two windows in the corpus
    total = sum(fold.held_out_raw for fold in report.folds)
    assert report.cross_validated == pytest.approx(100 * (total - null) / (perfect - null))


def test_choices_that_are_loud_on_clean_data_are_never_made() -> None:
    series, labels = corpus()
    loud = grid("loud", [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]], [3.0, 0.9])
    quiet = grid("quiet", [[0.1, 0.1, 0.0], [0.0, 0.0, 0.0]], [0.2, 0.0])
    report = select([loud, quiet], series, labels, THRESHOLDS)
    assert {fold.choice.name for fold in report.folds} == {"quiet"} and report.final.choice.name == "quiet"
    with pytest.raises(ValueError, match="no candidate"):
        select([loud], series, labels, THRESHOLDS, max_clean_episodes=0.5)


def test_rest_after_the_fact_is_the_models_own_rest() -> None:
    from models.registry import build

    rng = np.random.default_rng(0)
    stamps = 1.7e9 + 300.0 * np.arange(3000)
    values = 50 + 20 * np.sin(2 * np.pi * stamps / 86400) + rng.normal(0, 1, stamps.size)
    values[2000:] += 12
    values[2500] += 40
    config = {"rest": 0, "likelihood": {"probation_seconds": 0}}
    plain = build("detector", "seasonal_likelihood", config).score_series(values, stamps).score
    for threshold in (0.3, 0.47):
        rested = build("detector", "seasonal_likelihood", {**config, "rest": 50, "threshold": threshold})
        np.testing.assert_array_equal(rest_applied(plain, threshold, 50), rested.score_series(values, stamps).score)


def test_evaluate_fills_a_grid_per_threshold_and_category() -> None:
    series, labels = corpus()
    rng = np.random.default_rng(1)
    for s in series:
        s.values[:] = rng.normal(10, 1, 200)
        s.values[125] += 30
    clean = (rng.normal(10, 1, (300, 2)), 1.7e9 + 60.0 * np.arange(300)[:, None] + np.zeros((1, 2)))
    candidate = Candidate("quick", "calibrated", {"likelihood": {"learning": 20, "probation": 40,
                                                                 "probation_seconds": 0},
                                                  "members": [{"detector": "ewma", "signal": "z"}], "rest": 10})
    result = evaluate(candidate, series, labels, clean, clean_days=300 / 1440, thresholds=THRESHOLDS)
    assert result.raw.shape == (2, 3) and result.clean.shape == (2,)
    assert result.raw[:, 0].max() > 0  # the spike inside a's window is found
