"""``aiops eval rca``: rank the services of offline fault cases with the live ranker code.

A case is a folder with ``metrics.csv`` (``timestamp,service,metric,value``, long format)
and ``case.json`` (``{"anomaly_start": <unix seconds>}``). Labels are read only by
:func:`score`, after every case is ranked, and never reach the ranker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aiops.rca.analysis import analyse
from aiops.rca.frame import MetricFrame
from models.rankers.base import RootCauseRanker
from models.registry import build


@dataclass
class Case:
    name: str
    frame: MetricFrame
    anomaly_start: float


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
    return Case(folder.name, frame, float(meta["anomaly_start"]))


def case_folders(cases_dir: Path) -> list[Path]:
    folders = sorted(p for p in cases_dir.iterdir() if p.is_dir())
    if not folders:
        raise ValueError(f"no case folders under {cases_dir}")
    return folders


def rank_cases(cases_dir: Path, ranker: RootCauseRanker) -> dict[str, dict]:
    """``{case: {"ranking": [{"service_id", "score"}, ...]}}`` for every case, best first."""
    out = {}
    for folder in case_folders(cases_dir):
        case = read_case(folder)
        analysis = analyse(case.frame, case.anomaly_start, ranker, with_graph=False)
        out[case.name] = {"ranking": [{"service_id": c.service_id, "score": c.score} for c in analysis.ranking]}
    return out


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
