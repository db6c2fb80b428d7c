"""The Numenta Anomaly Benchmark score (NAB v1.x), written from the published method.

Each labelled window rewards its best (earliest) detection with a scaled sigmoid of where it
falls: ``2 / (1 + e^(5y)) - 1`` with ``y`` from -1 at the window's left edge to 0 at its
right edge, normalised so the left edge is worth exactly 1. A window with no detection
costs ``fn_weight``. Every detection outside a window costs ``fp_weight`` times the same
sigmoid of its distance past the previous window (in that window's widths; -1 before any
window or 3+ widths past one). The first ``min(floor(0.15 n), 750)`` rows of a file are a
probation period and not scored. One threshold serves the whole corpus, chosen to maximise
the total; the score is normalised to ``100 * (raw - null) / (perfect - null)`` where null
is no detection at all and perfect a detection at every window's start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PROBATION_FRACTION = 0.15


@dataclass(frozen=True)
class Profile:
    tp_weight: float
    fp_weight: float
    fn_weight: float


STANDARD = Profile(tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
REWARD_LOW_FP = Profile(tp_weight=1.0, fp_weight=0.22, fn_weight=1.0)
REWARD_LOW_FN = Profile(tp_weight=1.0, fp_weight=0.11, fn_weight=2.0)


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """``2 / (1 + e^(5 y)) - 1``, and -1 from ``y >= 3`` on."""
    y = np.asarray(position, dtype=np.float64)
    return np.where(y >= 3.0, -1.0, 2.0 / (1.0 + np.exp(np.minimum(5.0 * y, 700.0))) - 1.0)


def probation_length(rows: int) -> int:
    return int(min(math.floor(PROBATION_FRACTION * rows), PROBATION_FRACTION * 5000))


@dataclass
class ScoredRows:
    """The scorable rows of one file: detector score, the row's would-be score, its window."""

    anomaly_scores: np.ndarray
    sweep_scores: np.ndarray
    window_ids: np.ndarray  # -1 outside windows; otherwise a corpus-unique window number
    windows: int  # windows with at least one scorable row


def score_rows(timestamps: np.ndarray, anomaly_scores: np.ndarray, windows: list[tuple[np.datetime64, np.datetime64]],
               profile: Profile = STANDARD, first_window_id: int = 0) -> ScoredRows:
    """Each row's score if it were a detection, as NAB's sweep defines it."""
    n = timestamps.size
    window_of = np.full(n, -1, dtype=np.int64)
    sweep = np.empty(n, dtype=np.float64)
    max_tp = float(scaled_sigmoid(-1.0))
    index = np.arange(n)
    previous_right: int | None = None
    previous_width = 0.0
    cursor = 0
    for number, (start, end) in enumerate(windows):
        left = int(np.searchsorted(timestamps, start, side="left"))
        right = int(np.searchsorted(timestamps, end, side="right")) - 1
        if left >= n or right < left:
            continue
        # Rows before this window (after the previous one) are potential false positives.
        _score_outside(sweep, index[cursor:left], previous_right, previous_width, profile)
        width = float(right - left + 1)
        inside = index[left:right + 1]
        sweep[left:right + 1] = scaled_sigmoid(-(right - inside + 1) / width) * profile.tp_weight / max_tp
        window_of[left:right + 1] = first_window_id + number
        previous_right, previous_width, cursor = right, width, right + 1
    _score_outside(sweep, index[cursor:], previous_right, previous_width, profile)
    keep = index >= probation_length(n)
    scorable_windows = np.unique(window_of[keep][window_of[keep] >= 0]).size
    return ScoredRows(anomaly_scores[keep].astype(np.float64), sweep[keep], window_of[keep], scorable_windows)


def _score_outside(sweep: np.ndarray, rows: np.ndarray, previous_right: int | None, previous_width: float,
                   profile: Profile) -> None:
    if rows.size == 0:
        return
    if previous_right is None:
        position = np.full(rows.size, 3.0)
    else:
        position = np.abs(previous_right - rows) / max(previous_width - 1.0, 1e-12)
    sweep[rows] = scaled_sigmoid(position) * profile.fp_weight


@dataclass(frozen=True)
class NabResult:
    score: float  # normalised, 0 = no detections, 100 = perfect
    threshold: float
    raw: float
    null: float
    perfect: float
    windows: int
    true_positives: int  # windows detected at the threshold
    false_positives: int  # detections outside windows at the threshold


def best_threshold(files: list[ScoredRows], profile: Profile = STANDARD) -> NabResult:
    """Sweep every distinct score as a threshold over the whole corpus; keep the best."""
    scores = np.concatenate([f.anomaly_scores for f in files])
    sweep = np.concatenate([f.sweep_scores for f in files])
    window = np.concatenate([f.window_ids for f in files])
    windows = sum(f.windows for f in files)
    null = -profile.fn_weight * windows
    perfect = profile.tp_weight * windows
    order = np.argsort(-scores, kind="stable")
    best = (null, 1.1, 0, 0)  # no threshold low enough to detect anything
    window_best: dict[int, float] = {}
    total = null
    detected = false_positives = 0
    position = 0
    while position < order.size:
        threshold = scores[order[position]]
        # Every row at this score becomes a detection together.
        end = position
        while end < order.size and scores[order[end]] == threshold:
            row = order[end]
            if window[row] < 0:
                total += sweep[row]
                false_positives += 1
            else:
                previous = window_best.get(int(window[row]))
                if previous is None:
                    window_best[int(window[row])] = sweep[row]
                    total += sweep[row] + profile.fn_weight
                    detected += 1
                elif sweep[row] > previous:
                    window_best[int(window[row])] = sweep[row]
                    total += sweep[row] - previous
            end += 1
        if total > best[0]:
            best = (total, float(threshold), detected, false_positives)
        position = end
    raw, threshold, true_positives, fps = best
    score = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return NabResult(score, threshold, raw, null, perfect, windows, true_positives, fps)


def score_at(files: list[ScoredRows], threshold: float, profile: Profile = STANDARD) -> NabResult:
    """The corpus score at one fixed threshold (e.g. the model's own configured one)."""
    windows = sum(f.windows for f in files)
    null = -profile.fn_weight * windows
    perfect = profile.tp_weight * windows
    raw, detected, false_positives = null, 0, 0
    for scored in files:
        hits = scored.anomaly_scores >= threshold
        outside = hits & (scored.window_ids < 0)
        raw += float(scored.sweep_scores[outside].sum())
        false_positives += int(outside.sum())
        for window in np.unique(scored.window_ids[hits & (scored.window_ids >= 0)]):
            raw += float(scored.sweep_scores[hits & (scored.window_ids == window)].max()) + profile.fn_weight
            detected += 1
    score = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return NabResult(score, float(threshold), raw, null, perfect, windows, detected, false_positives)


def false_episodes(scored: ScoredRows, threshold: float, close_after: int = 3) -> int:
    """Alarm episodes that touch no window, folded as the watchdog folds them.

    Consecutive alarms (at or above ``threshold``) form one episode until ``close_after``
    rows in a row are quiet; an episode with no row inside a labelled window is false.
    """
    alarms = np.flatnonzero(scored.anomaly_scores >= threshold)
    if alarms.size == 0:
        return 0
    starts = np.r_[0, np.flatnonzero(np.diff(alarms) > close_after) + 1]
    inside = scored.window_ids[alarms] >= 0
    touched = np.add.reduceat(inside.astype(np.int64), starts)
    return int((touched == 0).sum())
