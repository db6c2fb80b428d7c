"""Choosing a detector configuration and its threshold honestly: leave one NAB category out.

For each of the corpus's categories in turn, the (configuration, threshold) pair that
scores best on the *other* categories is chosen, and the held-out category is scored
with that choice. The cross-validated figure puts the folds together the way NAB puts
files together: the held-out categories' raw scores are summed and normalised once,
``100 x (sum of raw - null) / (perfect - null)`` over the whole corpus, so it is one
NAB score of the corpus in which no file was scored by a choice made on it.

A choice must also keep the live promise of quiet on clean data: at most
``max_clean_episodes`` false alarm episodes per series-month on anomaly-free synthetic
series (:func:`aiops.bench.detect.clean_series`, drawn with their own seed, not the
benchmark's). The configuration finally shipped is the one chosen on all categories.

A candidate's ``rest`` (the calibrated detector's quiet period after an alarm) depends on
the threshold, so candidates run with ``rest`` 0 and the rest is applied per threshold
afterwards, exactly as the model applies it last.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aiops.evaluation.detect import detector_named, labelled_rows, score_tree
from aiops.evaluation.nab import STANDARD, ScoredRows, score_at
from aiops.evaluation.nab_data import Series

THRESHOLDS = np.round(np.arange(0.30, 0.995, 0.01), 2)


@dataclass(frozen=True)
class Candidate:
    name: str  # a short label
    model: str  # a registered detector
    config: dict = field(default_factory=dict)


@dataclass
class Grid:
    """One candidate's figures at every threshold: raw NAB per category and clean episodes."""

    candidate: Candidate
    raw: np.ndarray  # (thresholds, categories)
    clean: np.ndarray  # (thresholds,) false episodes per series-month


@dataclass
class Fold:
    held_out: str
    choice: Candidate
    threshold: float
    train_score: float  # normalised NAB on the other categories
    held_out_score: float | None  # normalised NAB of the held-out category (None: it has no windows)
    held_out_raw: float


@dataclass
class SelectionReport:
    folds: list[Fold]
    cross_validated: float  # one corpus-level NAB score assembled from the folds
    final: Fold  # chosen on every category (held_out = "")
    categories: list[str]


def rest_applied(scores: np.ndarray, threshold: float, rest: int) -> np.ndarray:
    """The calibrated detector's rest, applied to one series' scores after the fact."""
    if not rest:
        return scores
    from models.detectors.likelihood_kernel import rest_after_alarms

    out = np.ascontiguousarray(scores, dtype=np.float64).reshape(-1, 1).copy()
    rest_after_alarms(np.zeros(1), out, np.ones(out.shape, dtype=bool), threshold, rest,
                      np.nextafter(threshold, 0))
    return out[:, 0]


def clean_episodes_per_month(scores: np.ndarray, threshold: float, days: float, close_after: int = 3) -> float:
    """Alarm episodes per series-month on ``(steps, series)`` anomaly-free scores."""
    from aiops.bench.detect import MONTH_DAYS

    episodes = 0
    for column in range(scores.shape[1]):
        alarms = np.flatnonzero(scores[:, column] >= threshold)
        if alarms.size:
            episodes += 1 + int((np.diff(alarms) > close_after).sum())
    return episodes / (scores.shape[1] * days / MONTH_DAYS)


def evaluate(candidate: Candidate, series: list[Series], labels: dict, clean: tuple[np.ndarray, np.ndarray],
             clean_days: float, thresholds: np.ndarray = THRESHOLDS) -> Grid:
    config = dict(candidate.config)
    rest = int(config.pop("rest", 0)) if candidate.model == "calibrated" else 0
    if candidate.model == "calibrated":
        config["rest"] = 0
    detector = detector_named(candidate.model, config)
    scores = score_tree(detector, series)
    values, stamps = clean
    clean_scores = detector.run(detector.init_state(values.shape[1]), values, stamps,
                                np.ones(values.shape, dtype=bool)).score
    categories = sorted({s.name.split("/")[0] for s in series})
    base = labelled_rows(series, labels, scores)  # windows and sweep values do not depend on the scores
    raw = np.zeros((thresholds.size, len(categories)))
    quiet = np.zeros(thresholds.size)
    for i, threshold in enumerate(thresholds):
        rows = [ScoredRows(rest_applied(scores[s.name], threshold, rest)[-r.sweep_scores.size:] if r.sweep_scores.size
                           else r.anomaly_scores, r.sweep_scores, r.window_ids, r.windows)
                for s, r in zip(series, base, strict=True)]
        for j, category in enumerate(categories):
            mine = [r for s, r in zip(series, rows, strict=True) if s.name.split("/")[0] == category]
            raw[i, j] = score_at(mine, threshold).raw
        rested_clean = np.column_stack([rest_applied(clean_scores[:, k], threshold, rest)
                                        for k in range(clean_scores.shape[1])])
        quiet[i] = clean_episodes_per_month(rested_clean, threshold, clean_days)
    return Grid(candidate, raw, quiet)


def _bounds(series: list[Series], labels: dict, categories: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per category: (null, perfect) raw scores (windows with a scorable row count)."""
    rows = labelled_rows(series, labels, {s.name: np.zeros(s.values.size) for s in series})
    windows = np.zeros(len(categories))
    for s, scored in zip(series, rows, strict=True):
        windows[categories.index(s.name.split("/")[0])] += scored.windows
    return -STANDARD.fn_weight * windows, STANDARD.tp_weight * windows


def _normalised(raw: float, null: float, perfect: float) -> float | None:
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else None


def select(grids: list[Grid], series: list[Series], labels: dict, thresholds: np.ndarray = THRESHOLDS,
           max_clean_episodes: float = 0.5) -> SelectionReport:
    categories = sorted({s.name.split("/")[0] for s in series})
    null, perfect = _bounds(series, labels, categories)

    def choose(train: list[int]) -> tuple[Grid, int, float]:
        best: tuple[float, Grid | None, int] = (-np.inf, None, -1)
        for grid in grids:
            totals = grid.raw[:, train].sum(axis=1)
            for i in np.flatnonzero(grid.clean <= max_clean_episodes):
                score = _normalised(totals[i], null[train].sum(), perfect[train].sum())
                if score is not None and score > best[0]:
                    best = (score, grid, int(i))
        if best[1] is None:
            raise ValueError(f"no candidate keeps to {max_clean_episodes} false episodes per series-month")
        return best[1], best[2], best[0]

    folds = []
    for j, category in enumerate(categories):
        train = [k for k in range(len(categories)) if k != j]
        grid, i, train_score = choose(train)
        held = grid.raw[i, j]
        folds.append(Fold(category, grid.candidate, float(thresholds[i]), train_score,
                          _normalised(held, null[j], perfect[j]), held))
    cross_validated = _normalised(sum(f.held_out_raw for f in folds), null.sum(), perfect.sum())
    grid, i, score = choose(list(range(len(categories))))
    final = Fold("", grid.candidate, float(thresholds[i]), score, None, float(grid.raw[i].sum()))
    return SelectionReport(folds, float(cross_validated or 0.0), final, categories)


def default_candidates() -> list[Candidate]:
    """The family the live default is chosen from: seasonal deviations through the likelihood.

    What every candidate keeps, because the live watchdog promises it: a shifted level is
    re-learnt after 10 points, and a point 10 deviations off and further off than any
    before always alarms. The grid: a time-of-day slot's offset forgets half in 0.5, 1 or 2
    days (cycles) whatever the sampling rate; daily, or daily and weekly, seasonal members;
    likelihood window 10 or 20; new extremes count from 3 or 5 deviations; a rest of 50 or
    150 points.
    """
    candidates = []
    for cycles in (0.5, 1.0, 2.0):
        for weekly in (False, True):
            for window in (10, 20):
                members = [{"detector": "seasonal", "signal": "z", "clip": 10.0, "window": window,
                            "config": {"slot_halflife_cycles": cycles, "relearn_after": 10, "weekly": week}}
                           for week in ((False, True) if weekly else (False,))]
                for gate in (3.0, 5.0):
                    for rest in (50, 150):
                        config = {"members": members, "rest": rest, "range_tolerance": 0.05, "range_min_z": gate,
                                  "spike_z": 10.0}
                        label = (f"slots {cycles:g} d, {'daily+weekly' if weekly else 'daily'} w{window}, "
                                 f"range z>={gate:g}, rest {rest}")
                        candidates.append(Candidate(label, "calibrated", config))
    return candidates
