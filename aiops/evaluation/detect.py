"""``aiops eval detect`` / ``aiops eval nab``: the live detector code, run offline.

Each series is scored point by point in time order through the detector's streaming
``step`` (no look-ahead, no labels), exactly as a watchdog shard would score it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aiops.evaluation.nab import (
    STANDARD,
    NabResult,
    Profile,
    ScoredRows,
    best_threshold,
    false_episodes,
    score_at,
    score_rows,
)
from aiops.evaluation.nab_data import Series, read_labels, read_tree
from models.detectors.base import Detector, Scores
from models.registry import build


def detector_named(name: str, config: dict | None = None) -> Detector:
    return build("detector", name, config)


def score_tree(detector: Detector, series: list[Series]) -> dict[str, np.ndarray]:
    return {name: scores.score for name, scores in run_tree(detector, series).items()}


def run_tree(detector: Detector, series: list[Series]) -> dict[str, Scores]:
    """Every file streamed through one detector at once: file ``k`` is series (column) ``k``.

    Exactly what scoring each file alone gives (series are independent and ``run`` is
    ``step`` repeated), at the cost of the longest file's steps instead of all files' points.
    """
    if not series:
        return {}
    steps = max(s.values.size for s in series)
    values, stamps = np.zeros((steps, len(series))), np.zeros((steps, len(series)))
    active = np.zeros((steps, len(series)), dtype=bool)
    for column, s in enumerate(series):
        values[:s.values.size, column] = s.values
        stamps[:s.values.size, column] = s.unix_seconds
        active[:s.values.size, column] = True
    result = detector.run(detector.init_state(len(series)), values, stamps, active)
    return {s.name: Scores(result.score[:s.values.size, k].copy(), result.z_score[:s.values.size, k].copy())
            for k, s in enumerate(series)}


def write_scores(output_dir: Path, detector: Detector, series: list[Series],
                 scores: dict[str, np.ndarray]) -> list[Path]:
    written = []
    for s in series:
        target = output_dir / s.name
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = scores[s.name] >= detector.config.threshold
        with target.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "value", "anomaly_score", "is_anomaly"])
            for stamp, value, score, flag in zip(s.timestamps, s.values, scores[s.name], flags, strict=True):
                writer.writerow([str(stamp).replace("T", " "), repr(float(value)), f"{score:.6f}", int(flag)])
        written.append(target)
    return written


def detect(input_dir: Path, output_dir: Path, model: str) -> list[Path]:
    """Score every CSV under ``input_dir`` into ``output_dir``; refuses unreadable values (file and row named)."""
    detector = detector_named(model)
    series = read_tree(input_dir)
    return write_scores(output_dir, detector, series, score_tree(detector, series))


@dataclass
class CategoryFigures:
    """One category's share of a NAB run, at the corpus's best threshold and at the model's own."""

    category: str
    files: int
    best: NabResult  # the category alone, at the corpus's best threshold
    own: NabResult  # the category alone, at the model's configured threshold
    false_episodes: int  # alarm episodes touching no window, at the model's threshold


@dataclass
class NabReport:
    result: NabResult  # NAB's own method: the one corpus threshold that scores best
    as_deployed: NabResult  # at the model's configured threshold, what `eval detect` flags
    per_file: dict[str, float]  # each file's own normalised score at the corpus threshold
    categories: list[CategoryFigures]
    false_episodes: int  # at the model's threshold, over the corpus


def labelled_rows(series: list[Series], labels: dict, scores: dict[str, np.ndarray],
                  profile: Profile = STANDARD) -> list[ScoredRows]:
    """Each file's scorable rows, windows numbered across the corpus in file order."""
    rows, window_id = [], 0
    for s in series:
        rows.append(score_rows(s.timestamps, scores[s.name], labels[s.name], profile, first_window_id=window_id))
        window_id += len(labels[s.name])
    return rows


def read_corpus(data_dir: Path, labels_file: Path) -> tuple[list[Series], dict]:
    labels = read_labels(labels_file)
    return [s for s in read_tree(data_dir) if s.name in labels], labels


def nab(data_dir: Path, labels_file: Path, model: str, profile: Profile = STANDARD,
        config: dict | None = None, handed_over: bool = False) -> NabReport:
    """A detector over a NAB tree; ``handed_over``: as NAB's runner runs it (see :func:`as_nab_runs_it`)."""
    detector = detector_named(model, config)
    series, labels = read_corpus(data_dir, labels_file)
    scores = as_nab_runs_it(model, series, config) if handed_over else score_tree(detector, series)
    return nab_report(series, labels, scores, detector.config.threshold, profile)


def as_nab_runs_it(model: str, series: list[Series], config: dict | None = None) -> dict[str, np.ndarray]:
    """Each file scored by a detector that was handed what NAB's runner hands its detectors.

    NAB gives every detector the file's minimum and maximum and its probation length
    (min(15 % of the rows, 750)) before the first row: look-ahead a live stream does not
    have, but how the published results were made. Detectors whose config has
    ``value_range`` / ``probation`` get them (to check a port against its original);
    others run as they are.
    """
    from aiops.evaluation.nab import probation_length

    fields = detector_named(model, config).Config.model_fields
    scores = {}
    for s in series:
        given = dict(config or {})
        if "probation" in fields:
            given["probation"] = probation_length(s.values.size)
        if "value_range" in fields:
            given["value_range"] = (float(s.values.min()), float(s.values.max()))
        scores[s.name] = detector_named(model, given).score_series(s.values, s.unix_seconds).score
    return scores


def nab_of_files(data_dir: Path, labels_file: Path, scores_dir: Path) -> NabReport:
    """NAB's figures for scores another detector wrote (``<file>.csv`` with ``timestamp,anomaly_score``).

    The rows are put in the order :func:`read_tree` scores a file (time order, stable), so a
    published result lines up with the data whatever order its file lists rows in. There
    is no own threshold: the report's ``as_deployed`` is at the best one.
    """
    series, labels = read_corpus(data_dir, labels_file)
    scores = {}
    for s in series:
        path = scores_dir / s.name
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if len(rows) != s.values.size:
            raise ValueError(f"{path}: {len(rows)} rows, the data file has {s.values.size}")
        try:
            stamps = np.array([np.datetime64(r["timestamp"].strip().replace(" ", "T"), "s") for r in rows])
            values = np.array([float(r["anomaly_score"]) for r in rows])
        except (KeyError, ValueError) as error:
            raise ValueError(f"{path}: needs timestamp,anomaly_score ({error})") from None
        scores[s.name] = values[np.argsort(stamps, kind="stable")]
    report = nab_report(series, labels, scores, 1.1)
    return nab_report(series, labels, scores, report.result.threshold)


def nab_report(series: list[Series], labels: dict, scores: dict[str, np.ndarray], threshold: float,
               profile: Profile = STANDARD) -> NabReport:
    """NAB's figures for one set of scores: corpus, per file and per category."""
    rows = labelled_rows(series, labels, scores, profile)
    result = best_threshold(rows, profile)
    per_file = {}
    for s, scored in zip(series, rows, strict=True):
        detections = scored.anomaly_scores >= result.threshold
        per_file[s.name] = _file_score(scored, detections, profile)
    categories = []
    for category in sorted({s.name.split("/")[0] for s in series}):
        mine = [scored for s, scored in zip(series, rows, strict=True) if s.name.split("/")[0] == category]
        categories.append(CategoryFigures(
            category, len(mine), score_at(mine, result.threshold, profile), score_at(mine, threshold, profile),
            sum(false_episodes(scored, threshold) for scored in mine)))
    return NabReport(result, score_at(rows, threshold, profile), per_file, categories,
                     sum(c.false_episodes for c in categories))


def _file_score(scored, detections: np.ndarray, profile: Profile) -> float:
    raw = float(scored.sweep_scores[detections & (scored.window_ids < 0)].sum())
    for window in np.unique(scored.window_ids[scored.window_ids >= 0]):
        hits = detections & (scored.window_ids == window)
        raw += float(scored.sweep_scores[hits].max()) if hits.any() else -profile.fn_weight
    windows = scored.windows
    if windows == 0:
        return raw  # files without windows: only false positives, 0 is perfect
    return 100.0 * (raw + profile.fn_weight * windows) / ((profile.tp_weight + profile.fn_weight) * windows)
