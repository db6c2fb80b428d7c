"""Every registered root-cause ranker passes the same checks on a planted fault."""

from __future__ import annotations

import numpy as np
import pytest

from aiops.rca.analysis import analyse
from aiops.rca.graph import DECLARED, Edge, ServiceGraph
from models.registry import build, entries
from tests.aiops.rca.synthetic import fault, frame_of

RANKERS = [entry.name for entry in entries("ranker")]
START = 1_700_000_000.0


@pytest.mark.parametrize("name", RANKERS)
def test_the_planted_root_cause_comes_first_with_evidence(name: str) -> None:
    frame = frame_of(fault(fault_at=100), start=START)
    fault_time = START + 60 * 100
    ranker = build("ranker", name)
    ranking = ranker.rank(frame, fault_time)
    assert [c.service_id for c in ranking][0] == "db"
    assert sorted(c.service_id for c in ranking) == sorted(frame.services)  # every service ranked once
    assert all(0 <= c.score <= 1 for c in ranking) and ranking[0].score == max(c.score for c in ranking)
    top = ranking[0].evidence[0]
    assert top.metric_name == "latency_ms" and top.z_score > 10 and top.at >= fault_time
    assert ranker.rank(frame, fault_time)[0].score == ranking[0].score  # deterministic


@pytest.mark.parametrize("name", RANKERS)
def test_nothing_after_the_start_ranks_without_failing(name: str) -> None:
    frame = frame_of(fault(), start=START)
    ranking = build("ranker", name).rank(frame, START + 60 * 10_000)
    assert len(ranking) == len(frame.services) and all(c.evidence == [] for c in ranking)


@pytest.mark.parametrize("name", RANKERS)
def test_a_shorter_aftermath_gives_the_same_top_cause(name: str) -> None:
    data = fault(minutes=130, fault_at=100)
    whole = build("ranker", name).rank(frame_of(data, start=START), START + 6000)
    cut = build("ranker", name).rank(frame_of({k: v[:104] for k, v in data.items()}, start=START), START + 6000)
    assert whole[0].service_id == cut[0].service_id == "db"


def test_the_analysis_finds_the_blast_radius_downstream_of_the_root() -> None:
    frame = frame_of(fault(fault_at=100), start=START)
    declared = [Edge("web", "api", DECLARED, 1.0, 0), Edge("api", "db", DECLARED, 1.0, 0)]
    result = analyse(frame, START + 6000, build("ranker", "baro"), declared=declared)
    assert result.root.service_id == "db"
    blast = {r.service_id: r for r in result.blast_radius}
    assert {"api", "web"} <= set(blast) and "cache" not in blast
    assert blast["api"].depth == 1 and blast["web"].lag_minutes >= 0


def test_the_relative_floor_keeps_flat_metrics_from_dominating() -> None:
    data = fault(fault_at=100)
    data[("queue", "memory_bytes")] = np.r_[np.full(100, 3.0e8), np.full(20, 2.99e8)]  # flat, then -0.3 %
    ranking = build("ranker", "baro").rank(frame_of(data, start=START), START + 6000)
    assert ranking[0].service_id == "db"
    unfloored = build("ranker", "baro", {"relative_floor": 0.0}).rank(frame_of(data, start=START), START + 6000)
    assert unfloored[0].service_id == "queue"  # what the floor is there to prevent


def test_declared_calls_settle_a_tie_that_timing_cannot() -> None:
    rng = np.random.default_rng(0)
    noise = {s: 50 + rng.normal(0, 1, 120) for s in ("web", "api", "db")}
    for s in noise:
        noise[s][100:] += 30  # all three move in the same minute, equally
    frame = frame_of({(s, "latency_ms"): v for s, v in noise.items()}, start=START)
    plain = build("ranker", "baro").rank(frame, START + 6000)
    graph = ServiceGraph([Edge("web", "api", DECLARED, 1.0, 0), Edge("api", "db", DECLARED, 1.0, 0)])
    with_calls = build("ranker", "baro").rank(frame, START + 6000, graph)
    assert [c.service_id for c in with_calls] == ["db", "api", "web"]
    assert sorted(c.score for c in with_calls) == sorted(c.score for c in plain)  # the order changed, not scores
