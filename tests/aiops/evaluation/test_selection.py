"""Leave-one-category-out selection: each fold chooses on the others; the folds make one score."""

from __future__ import annotations

import numpy as np
import pytest

from aiops.evaluation.nab_data import Series
from aiops.evaluation.selection import Candidate, Grid, evaluate, select

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
    report = select([good_on_a, good_on_b], series, labels, THRESHOLDS, rule="best")
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


def test_the_quiet_rule_sets_each_threshold_from_clean_data_alone() -> None:
    """Under ``quiet`` a candidate alarms from its lowest threshold within the clean budget, even
    where a higher one scores better on the labels; ``best`` takes the better-scoring one."""
    series, labels = corpus()
    # Threshold 0.4 is within the budget but scores worse than 0.6 on every category.
    only = grid("only", [[0.1, 0.1, 0.0], [0.6, 0.6, 0.0]], [0.4, 0.0])
    quiet = select([only], series, labels, THRESHOLDS, rule="quiet")
    assert quiet.rule == "quiet" and {fold.threshold for fold in quiet.folds} == {0.4}
    assert quiet.final.threshold == 0.4
    best = select([only], series, labels, THRESHOLDS)
    assert {fold.threshold for fold in best.folds} == {0.6}
    # Louder than the budget at 0.4: the quiet threshold moves up to 0.6.
    louder = select([grid("louder", [[0.1, 0.1, 0.0], [0.6, 0.6, 0.0]], [0.7, 0.3])], series, labels, THRESHOLDS,
                    rule="quiet")
    assert louder.final.threshold == 0.6
    with pytest.raises(ValueError, match="rule"):
        select([only], series, labels, THRESHOLDS, rule="median")


def test_the_member_tail_rule_alarms_where_one_member_is_htm_rare() -> None:
    """HTM alarms at a likelihood of 1 - 1e-5; with n members (Bonferroni) that is -log10(n 1e-5) / 10."""
    from aiops.evaluation.selection import member_tail_score

    assert member_tail_score(1) == pytest.approx(0.5)
    assert member_tail_score(3) == pytest.approx(0.4523, abs=1e-4)
    series, labels = corpus()
    thresholds = np.array([0.44, 0.45, 0.46, 0.47])
    raw = [[0.1, 0.1, 0.0], [0.2, 0.2, 0.0], [0.9, 0.9, 0.0], [0.3, 0.3, 0.0]]
    three = Grid(Candidate("three", "calibrated", {"members": [{}, {}, {}]}), np.array(raw), np.zeros(4))
    two = Grid(Candidate("two", "calibrated", {"members": [{}, {}]}), np.array(raw), np.zeros(4))
    assert select([three], series, labels, thresholds, rule="member_tail").final.threshold == 0.45
    assert select([two], series, labels, thresholds, rule="member_tail").final.threshold == 0.46  # 0.4699, grid below


def test_a_choice_never_alarms_on_a_training_category_without_windows() -> None:
    """Category c has no windows (as NAB's artificialNoAnomaly): a threshold that alarms there is
    not chosen while c is training data, however well it scores elsewhere; held out, c is just scored."""
    series, labels = corpus()
    noisy_on_c = grid("noisy on c", [[0.9, 0.9, -0.1], [0.5, 0.5, 0.0]], [0.1, 0.1])
    report = select([noisy_on_c], series, labels, THRESHOLDS)
    assert report.final.threshold == 0.6
    by_held = {fold.held_out: fold for fold in report.folds}
    assert by_held["a"].threshold == 0.6 and by_held["b"].threshold == 0.6
    assert by_held["c"].threshold == 0.4 and by_held["c"].held_out_raw == -0.1


def test_a_judgement_settled_at_a_threshold_is_the_models_own_run_there() -> None:
    """The selection runs a candidate once and settles it per threshold: rest and block silence as the model does."""
    from models.detectors.calibrated import settle
    from models.registry import build

    rng = np.random.default_rng(0)
    stamps = 1.7e9 + 300.0 * np.arange(4000)
    values = 50 + 20 * np.sin(2 * np.pi * stamps / 86400) + rng.normal(0, 1, stamps.size)
    values[2000:] += 12
    values[2500] += 40
    values[3000:] += np.linspace(0, 8, 1000)  # a slow slide for the hourly block member
    values[3500] = np.inf  # flagged whatever the rest
    config = {"likelihood": {"probation_seconds": 0, "red_filter": False},
              "members": [{"detector": "seasonal", "signal": "z", "clip": 10.0, "window": 20,
                           "config": {"relearn_after": 10}},
                          {"detector": "seasonal", "signal": "z", "clip": 10.0, "window": 5, "resample_seconds": 3600,
                           "config": {"slot_seconds": 3600, "warmup": 24},
                           "likelihood": {"learning": 24, "probation": 48, "probation_seconds": 0, "period": 24}}]}
    column = (stamps.size, 1)
    detector = build("detector", "seasonal_multiscale", config)
    judged = detector.judge(detector.init_state(1), values.reshape(column), stamps.reshape(column),
                            np.ones(column, dtype=bool))
    assert judged.coarse.max() > 0
    for threshold in (0.3, 0.46):
        for rest in (0, 50):
            model = build("detector", "seasonal_multiscale", {**config, "rest": rest, "threshold": threshold})
            np.testing.assert_array_equal(settle(judged, stamps.reshape(column), np.ones(column, dtype=bool),
                                                 threshold, rest)[:, 0],
                                          model.score_series(values, stamps).score)


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
