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

Which points alarm depends on the threshold beyond ``score >= threshold``: the calibrated
detector's rest after an alarm, and its coarse members' silence after one. So a calibrated
candidate runs once to its members' judgement (:meth:`CalibratedDetector.judge`) and is
settled at each threshold with the model's own :func:`~models.detectors.calibrated.settle`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from aiops.evaluation.detect import detector_named, labelled_rows, tree_matrix
from aiops.evaluation.nab import STANDARD, ScoredRows, score_at
from aiops.evaluation.nab_data import Series
from models.detectors.base import Detector

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
    rule: str = "best"  # how each candidate's threshold was set (see :func:`select`)


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
    detector = detector_named(candidate.model, candidate.config)
    at_threshold = [_settler(detector, *matrix) for matrix in
                    (tree_matrix(series), (*clean, np.ones(clean[0].shape, dtype=bool)))]
    categories = sorted({s.name.split("/")[0] for s in series})
    base = labelled_rows(series, labels, {s.name: np.zeros(s.values.size) for s in series})  # windows, sweep
    raw = np.zeros((thresholds.size, len(categories)))
    quiet = np.zeros(thresholds.size)
    for i, threshold in enumerate(thresholds):
        scores = at_threshold[0](threshold)
        rows = [ScoredRows(scores[:s.values.size, k][-r.sweep_scores.size:] if r.sweep_scores.size
                           else r.anomaly_scores, r.sweep_scores, r.window_ids, r.windows)
                for k, (s, r) in enumerate(zip(series, base, strict=True))]
        for j, category in enumerate(categories):
            mine = [r for s, r in zip(series, rows, strict=True) if s.name.split("/")[0] == category]
            raw[i, j] = score_at(mine, threshold).raw
        quiet[i] = clean_episodes_per_month(at_threshold[1](threshold), threshold, clean_days)
    return Grid(candidate, raw, quiet)


def _settler(detector: Detector, values: np.ndarray, stamps: np.ndarray,
             active: np.ndarray) -> Callable[[float], np.ndarray]:
    """Run ``detector`` once over ``(steps, series)``; return threshold -> the scores it would give there."""
    from models.detectors.calibrated import CalibratedDetector, settle

    if isinstance(detector, CalibratedDetector):
        judged = detector.judge(detector.init_state(values.shape[1]), values, stamps, active)
        return lambda threshold: settle(judged, stamps, active, threshold, detector.config.rest)
    scores = detector.run(detector.init_state(values.shape[1]), values, stamps, active).score
    return lambda threshold: scores


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
           max_clean_episodes: float = 0.5, rule: str = "best", fixed_threshold: float | None = None,
           quiet_on_windowless: bool = True) -> SelectionReport:
    """Leave one category out; the threshold of a candidate by ``rule``.

    A choice must be quiet on the clean data it is shown: at most ``max_clean_episodes``
    on the synthetic series, and no false alarm on training categories without windows
    (NAB's ``artificialNoAnomaly``, when it is not the held-out one; ``quiet_on_windowless``
    False drops that). Rules:

    - ``"best"`` (shipped): whichever scores best on the training categories (NAB's own
      method, per fold), among thresholds within the clean budget;
    - ``"quiet"``: the lowest threshold within the clean budget: the threshold is what the
      quiet promise allows, and only the configuration is chosen on the training categories;
    - ``"member_tail"``: HTM's alarm level read per member, a member's likelihood tail of
      1e-5 (:func:`member_tail_score`, rounded down to the grid), if within the budget;
    - ``"fixed"``: ``fixed_threshold`` for every candidate (if within the budget).
    """
    categories = sorted({s.name.split("/")[0] for s in series})
    null, perfect = _bounds(series, labels, categories)

    def allowed(grid: Grid, train: list[int]) -> np.ndarray:
        # Quiet on the clean data it is shown: the synthetic series, and no false alarm on the
        # training categories without windows (NAB's artificialNoAnomaly: raw below 0 is a false alarm).
        mask = grid.clean <= max_clean_episodes
        windowless = [k for k in train if perfect[k] == null[k]] if quiet_on_windowless else []
        if windowless:
            mask &= (grid.raw[:, windowless] >= 0).all(axis=1)
        if rule == "quiet":
            mask = np.arange(mask.size) == (int(np.flatnonzero(mask)[0]) if mask.any() else -1)
        elif rule == "member_tail":
            members = len(grid.candidate.config.get("members", ())) or 1
            at = np.flatnonzero(thresholds <= member_tail_score(members) + 1e-9)
            mask &= np.arange(mask.size) == (at[-1] if at.size else -1)
        elif rule == "fixed":
            mask &= np.isclose(thresholds, np.nan if fixed_threshold is None else fixed_threshold)
        elif rule != "best":
            raise ValueError(f"unknown threshold rule {rule!r} (best, quiet, member_tail or fixed)")
        return mask

    def choose(train: list[int]) -> tuple[Grid, int, float]:
        best: tuple[float, Grid | None, int] = (-np.inf, None, -1)
        for grid in grids:
            totals = grid.raw[:, train].sum(axis=1)
            for i in np.flatnonzero(allowed(grid, train)):
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
    return SelectionReport(folds, float(cross_validated or 0.0), final, categories, rule)


def member_tail_score(members: int, tail: float = 1e-5) -> float:
    """The calibrated score at which one of ``members`` likelihoods has tail ``tail``:
    ``-log10(members x tail) / 10`` (the Bonferroni factor of :mod:`models.detectors.calibrated`);
    HTM alarms at a likelihood of 1 - 1e-5 (0.470 for two members, 0.452 for three)."""
    return float(-np.log10(members * tail) / 10)


def seasonal_member(weekly: bool, window: int) -> dict:
    """A point-level seasonal deviation member: slot memory of one day, level re-learnt after 10 points."""
    return {"detector": "seasonal", "signal": "z", "clip": 10.0, "window": window,
            "config": {"slot_halflife_cycles": 1.0, "relearn_after": 10, "weekly": weekly}}


def coarse_member(block_seconds: int) -> dict:
    """The daily seasonal deviation of block means (one step per block), judged by its own likelihood.

    Its likelihood counts blocks: it learns from a week of them and alarms from two weeks
    (a weekly cycle twice), re-estimates daily, averages 5 blocks, and keeps NuPIC's red
    filter, so a lasting change alarms at its first block only.
    """
    per_day = 86400 // block_seconds
    return {"detector": "seasonal", "signal": "z", "clip": 10.0, "window": 5, "resample_seconds": block_seconds,
            "config": {"slot_seconds": max(1800, block_seconds), "slot_halflife_cycles": 1.0, "relearn_after": 10,
                       "warmup": 24},
            "likelihood": {"learning": 7 * per_day, "probation": 14 * per_day, "period": per_day}}


def default_candidates() -> list[Candidate]:
    """The family the live default is chosen from: seasonal deviations through the likelihood.

    What every candidate keeps, because the live watchdog promises it: daily and weekly
    seasonal members (slot memory one day) whose level is re-learnt after 10 points; a
    new extreme 5 deviations off, or a point 10 deviations off and further off than any
    before, always alarms. The grid: NuPIC's red filter on the point members' likelihood or
    not; likelihood window 10 or 20 points; no coarse member, or one on 1-, 3- or 6-hour
    block means (:func:`coarse_member`); a rest of 50 or 150 points.
    """
    candidates = []
    for red_filter in (True, False):
        for window in (10, 20):
            for block in (None, 3600, 3 * 3600, 6 * 3600):
                members = [seasonal_member(False, window), seasonal_member(True, window)]
                if block is not None:
                    members.append(coarse_member(block))
                for rest in (50, 150):
                    config = {"members": members, "rest": rest, "range_tolerance": 0.05, "range_min_z": 5.0,
                              "spike_z": 10.0, "likelihood": {"red_filter": red_filter}}
                    label = (f"{'red filter' if red_filter else 'no filter'}, w{window}, "
                             f"{'no coarse' if block is None else f'coarse {block // 3600} h'}, rest {rest}")
                    candidates.append(Candidate(label, "calibrated", config))
    return candidates
