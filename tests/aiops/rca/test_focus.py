"""An RCA for a symptom names only what can have caused it: the service itself or what it calls."""

from __future__ import annotations

import numpy as np

from aiops.rca.analysis import analyse, focus_on
from models.rankers.base import RankedCause
from models.registry import build
from models.telemetry import MetricFrame
from models.telemetry.graph import DECLARED, LEARNED, Edge, ServiceGraph
from tests.aiops.rca.synthetic import fault

CALLS = [Edge("web", "api", DECLARED, 1.0, 0), Edge("api", "db", DECLARED, 1.0, 0)]


def ranking(*names: str) -> list[RankedCause]:
    return [RankedCause(name, 1.0 / (i + 1)) for i, name in enumerate(names)]


def ids(causes: list[RankedCause]) -> list[str]:
    return [c.service_id for c in causes]


def test_the_symptom_and_what_it_calls_directly_or_not_are_kept_as_shares() -> None:
    graph = ServiceGraph(CALLS, {"web", "api", "db", "cache"})
    kept = focus_on(ranking("cache", "web", "db", "api"), "web", graph)
    assert ids(kept) == ["web", "db", "api"]
    assert np.isclose(sum(c.score for c in kept), 1.0)
    assert ids(focus_on(ranking("cache", "web", "db", "api"), "api", graph)) == ["db", "api"]
    assert ids(focus_on(ranking("web", "db"), "db", graph)) == ["db"]  # a leaf explains itself


def test_the_ranking_is_unchanged_where_the_calls_are_not_known() -> None:
    causes = ranking("cache", "web", "db")
    # No call edge names the service; learned correlations are not calls.
    learned = ServiceGraph(CALLS + [Edge("cache", "queue", LEARNED, 0.9, 1)], {"queue"})
    assert focus_on(causes, "queue", learned) == causes
    assert focus_on(causes, "web", ServiceGraph([], {"web", "db", "cache"})) == causes
    # Nothing ranked is within reach: the ranking says more than an empty answer would.
    assert focus_on(ranking("cache", "queue"), "web", ServiceGraph(CALLS)) == ranking("cache", "queue")


def test_a_louder_unrelated_fault_at_the_same_time_is_not_named_for_the_symptom() -> None:
    series = fault(minutes=120, fault_at=100, seed=3)
    series[("cache", "cpu")][100:] += 60  # a second, louder problem nobody here calls
    columns = sorted(series)
    frame = MetricFrame(np.arange(120) * 60.0, 60.0, columns, np.vstack([series[c] for c in columns]))
    ranker, start = build("ranker", "baro"), 100 * 60.0
    assert analyse(frame, start, ranker, declared=CALLS).root.service_id == "cache"
    focused = analyse(frame, start, ranker, declared=CALLS, focus="web")
    assert focused.root.service_id == "db" and "cache" not in ids(focused.ranking)
    assert {"api", "web"} <= {r.service_id for r in focused.blast_radius}


def test_scores_all_zero_are_shared_equally_and_the_docstring_example_holds() -> None:
    import doctest

    import aiops.rca.analysis as module

    graph = ServiceGraph(CALLS, {"web", "api", "db"})
    kept = focus_on([RankedCause("db", 0.0), RankedCause("api", 0.0), RankedCause("cache", 0.0)], "api", graph)
    assert [(c.service_id, c.score) for c in kept] == [("db", 0.5), ("api", 0.5)]
    assert doctest.testmod(module).failed == 0
