"""``aiops eval rca``: rank the services of offline fault cases with the live ranker code.

A case is a folder with ``metrics.csv`` (``timestamp,service,metric,value``, long format),
``case.json`` (``{"anomaly_start": <unix seconds>}``) and optionally ``traces.csv`` and
``logs.csv`` (columns in ``../shared/spec/CONTRACT.md``), read into the same
:class:`~models.telemetry.SpanTable` / :class:`~models.telemetry.LogTable` the live RCA
builds from stored spans and log records, and ranked through the same
:func:`~aiops.rca.analysis.analyse`. Labels are read only by :func:`score` and the
reports, after every case is ranked, and never reach the ranker; so are the case names,
from which :func:`group_of` derives a system and fault type for the per-group figures.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeGuard

import numpy as np
import pandas as pd

from aiops.rca.analysis import analyse
from models.rankers.base import RankedCause, RankerConfig, RootCauseRanker
from models.registry import build
from models.telemetry import LogTable, MetricFrame, SpanTable

if TYPE_CHECKING:
    from models.rankers.signals.base import Signal
    from models.telemetry.graph import ServiceGraph

SPAN_COLUMNS = ["trace_id", "span_id", "parent_span_id", "service", "operation", "start_unix_nano", "end_unix_nano"]
LOG_COLUMNS = ["timestamp_unix_nano", "service", "trace_id", "span_id", "severity", "body"]
# Nezha's case names: <source>-<system>-<date>-<hour>-<index>-<fault type>; read only by the reports.
DEFAULT_GROUPS = r"^(?P<system>[a-z]+-[a-z]+)-\d{4}-\d\d-\d\d-\d+-\d+-(?P<fault>[a-z_]+)$"


@dataclass
class Case:
    name: str
    frame: MetricFrame
    anomaly_start: float
    spans: SpanTable | None = None
    logs: LogTable | None = None


def _csv(path: Path, required: list[str], text: list[str]) -> pd.DataFrame:
    table = pd.read_csv(path, dtype={c: str for c in text}, keep_default_na=False, na_values={})
    missing = set(required) - set(table.columns)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}")
    return table


def read_spans(path: Path) -> SpanTable:
    """``traces.csv`` -> :class:`SpanTable` (``status_code`` and ``kind`` columns are read when present)."""
    table = _csv(path, SPAN_COLUMNS, ["trace_id", "span_id", "parent_span_id", "service", "operation"])
    times = {c: pd.to_numeric(table[c], errors="coerce") for c in ("start_unix_nano", "end_unix_nano")}
    good = times["start_unix_nano"].notna() & times["end_unix_nano"].notna()
    table = table[good]
    optional = {c: table[c].to_numpy() for c in ("status_code", "kind") if c in table.columns}
    return SpanTable.from_columns(**{c: table[c].to_numpy() for c in SPAN_COLUMNS[:5]},
                                  start_unix_nano=times["start_unix_nano"][good].to_numpy(np.int64),
                                  end_unix_nano=times["end_unix_nano"][good].to_numpy(np.int64), **optional)


def read_logs(path: Path) -> LogTable:
    """``logs.csv`` -> :class:`LogTable`."""
    table = _csv(path, LOG_COLUMNS, ["service", "trace_id", "span_id", "severity", "body"])
    at = pd.to_numeric(table.timestamp_unix_nano, errors="coerce")
    table = table[at.notna()]
    return LogTable.from_columns(timestamp_unix_nano=at[at.notna()].to_numpy(np.int64),
                                 **{c: table[c].to_numpy() for c in LOG_COLUMNS[1:]})


def read_case(folder: Path) -> Case:
    meta_path, metrics_path = folder / "case.json", folder / "metrics.csv"
    if not meta_path.is_file() or not metrics_path.is_file():
        raise ValueError(f"{folder} is not a case: it needs case.json and metrics.csv")
    meta = json.loads(meta_path.read_text())
    if "anomaly_start" not in meta:
        raise ValueError(f"{meta_path} has no anomaly_start")
    table = pd.read_csv(metrics_path, dtype={"service": str, "metric": str})
    missing = {"timestamp", "service", "metric", "value"} - set(table.columns)
    if missing:
        raise ValueError(f"{metrics_path} lacks columns {sorted(missing)}")
    table = table.dropna(subset=["timestamp", "service", "metric"])
    frame = MetricFrame.from_long(table["timestamp"].to_numpy(float), table["service"].tolist(),
                                  table["metric"].tolist(), pd.to_numeric(table["value"], errors="coerce").to_numpy())
    spans = read_spans(folder / "traces.csv") if (folder / "traces.csv").is_file() else None
    logs = read_logs(folder / "logs.csv") if (folder / "logs.csv").is_file() else None
    return Case(folder.name, frame, float(meta["anomaly_start"]), spans, logs)


def case_folders(cases_dir: Path) -> list[Path]:
    folders = sorted(p for p in cases_dir.iterdir() if p.is_dir())
    if not folders:
        raise ValueError(f"no case folders under {cases_dir}")
    return folders


def read_cases(cases_dir: Path) -> list[Case]:
    return [read_case(folder) for folder in case_folders(cases_dir)]


def ranking_json(ranking: list[RankedCause]) -> dict:
    return {"ranking": [{"service_id": c.service_id, "score": c.score} for c in ranking]}


def rank_case(case: Case, ranker: RootCauseRanker) -> list[RankedCause]:
    """The live analysis on one case (no graph learning unless the ranker uses it)."""
    return analyse(case.frame, case.anomaly_start, ranker, with_graph=False, spans=case.spans,
                   logs=case.logs).ranking


def rank_cases(cases_dir: Path, ranker: RootCauseRanker) -> dict[str, dict]:
    """``{case: {"ranking": [{"service_id", "score"}, ...]}}`` for every case, best first."""
    return {case.name: ranking_json(rank_case(case, ranker)) for case in read_cases(cases_dir)}


def ranker_named(name: str, config: dict | None = None) -> RootCauseRanker:
    return build("ranker", name, config)


@dataclass
class RcaScore:
    cases: int
    ac: list[float]  # AC@1..AC@5
    misses: dict[str, int]  # case -> 1-based position of the true root cause (0: not ranked)

    @property
    def avg5(self) -> float:
        return float(np.mean(self.ac))


def score(rankings: dict[str, dict], labels: dict[str, str]) -> RcaScore:
    """RCAEval's AC@k (share of cases with the root cause in the top k) and Avg@5."""
    unknown = sorted(set(labels) - set(rankings))
    if unknown:
        raise ValueError(f"labels name cases that were not ranked: {', '.join(unknown[:5])}")
    hits = np.zeros(5)
    misses = {}
    for case, truth in labels.items():
        services = [item["service_id"] for item in rankings[case]["ranking"]]
        position = services.index(truth) + 1 if truth in services else 0
        for k in range(5):
            hits[k] += 0 < position <= k + 1
        if position != 1:
            misses[case] = position
    n = max(len(labels), 1)
    return RcaScore(len(labels), (hits / n).tolist(), misses)


def group_of(case: str, pattern: str, name: str) -> str | None:
    """The ``name`` group (``system`` or ``fault``) of a case name, for reports only; None if it does not match."""
    found = re.match(pattern, case)
    return found.group(name) if found and name in found.groupdict() else None


def by_group(labels: dict[str, str], pattern: str, name: str) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    for case, truth in labels.items():
        group = group_of(case, pattern, name)
        if group is not None:
            groups.setdefault(group, {})[case] = truth
    return groups


# -- the combined ranker: signals once per case, fused many times ------------------------------
class FusableRanker(Protocol):
    """A ranker that computes its evidence first and fuses it after (the multimodal one)."""

    @property
    def config(self) -> RankerConfig: ...

    def signals(self, frame: MetricFrame, start: float, graph: ServiceGraph | None = None, *,
                spans: SpanTable | None = None, logs: LogTable | None = None) -> list[Signal]: ...

    def fuse(self, signals: list[Signal], services: list[str],
             callees: dict[str, set[str]] | None = None) -> list[RankedCause]: ...


def fusable(ranker: RootCauseRanker) -> TypeGuard[FusableRanker]:
    """Rankers that compute evidence first and fuse it after (the multimodal one) can be re-fused cheaply."""
    return hasattr(ranker, "signals") and hasattr(ranker, "fuse")


@dataclass
class CaseEvidence:
    case: Case
    signals: list = field(default_factory=list)
    services: list[str] = field(default_factory=list)


def case_evidence(cases: Iterable[Case], ranker: FusableRanker,
                  progress: Callable[[str], None] | None = None) -> list[CaseEvidence]:
    """Every case's signals (all modalities the ranker is configured for), computed once."""
    out = []
    for case in cases:
        services = list(case.frame.services)
        if case.spans is not None:
            services += case.spans.services
        if case.logs is not None and len(case.logs):
            services += sorted(set(case.logs.service.tolist()))
        out.append(CaseEvidence(case, ranker.signals(case.frame, case.anomaly_start, spans=case.spans,
                                                     logs=case.logs), services))
        if progress is not None:
            progress(case.name)
    return out


def fused_rankings(evidence: list[CaseEvidence], name: str, config: dict,
                   modalities: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Rankings of cached evidence under ``config``, keeping only the signals of ``modalities``."""
    ranker: FusableRanker = build("ranker", name, config)  # as ranker_named, typed for a fusable one
    out = {}
    for item in evidence:
        signals = [s for s in item.signals if modalities is None or s.kind in modalities]
        out[item.case.name] = ranking_json(ranker.fuse(signals, item.services))
    return out


WEIGHT_GRID = (0.25, 0.5, 1.0, 2.0, 4.0)


def weight_grid() -> list[dict]:
    """The settings cross-validation chooses among: trace and log weights relative to metrics."""
    return [{"trace_weight": t, "log_weight": g} for t, g in product(WEIGHT_GRID, WEIGHT_GRID)]


def _distance(setting: dict, default: dict) -> float:
    return sum(abs(math.log(setting[k] / default.get(k, 1.0))) for k in setting)


@dataclass
class Fold:
    tuned_on: str
    scored_on: str
    chosen: dict
    tuned: RcaScore
    held_out: RcaScore
    rankings: dict[str, dict]


def choose(evidence: list[CaseEvidence], labels: dict[str, str], name: str, base: dict,
           grid: list[dict]) -> tuple[dict, RcaScore]:
    """The grid setting with the best Avg@5 on ``labels`` (then AC@1; then the one nearest the defaults)."""
    configured = ranker_named(name, base).config
    default = {k: float(getattr(configured, k)) for k in grid[0]}
    best = None
    for setting in grid:
        scored = score(fused_rankings(evidence, name, {**base, **setting}), labels)
        key = (round(scored.avg5, 9), round(scored.ac[0], 9), -_distance(setting, default))
        if best is None or key > best[0]:
            best = (key, setting, scored)
    assert best is not None  # the grid is never empty (cross_validate: given or the default)
    return best[1], best[2]


def cross_validate(evidence: list[CaseEvidence], labels: dict[str, str], groups: dict[str, dict[str, str]],
                   name: str, base: dict, grid: list[dict] | None = None) -> list[Fold]:
    """Tune on each group, score every other group with the chosen setting (leave-one-group-in)."""
    grid = grid or weight_grid()
    folds = []
    for tuned_on, tune_labels in sorted(groups.items()):
        tune_cases = [e for e in evidence if e.case.name in tune_labels]
        chosen, tuned = choose(tune_cases, tune_labels, name, base, grid)
        for scored_on, held_labels in sorted(groups.items()):
            if scored_on == tuned_on:
                continue
            held_cases = [e for e in evidence if e.case.name in held_labels]
            rankings = fused_rankings(held_cases, name, {**base, **chosen})
            folds.append(Fold(tuned_on, scored_on, chosen, tuned, score(rankings, held_labels), rankings))
    return folds
