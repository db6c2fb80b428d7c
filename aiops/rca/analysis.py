"""One root-cause analysis: rank the services, learn the graph, find the blast radius, explain.

The live RCA workers and ``aiops eval rca`` both call :func:`analyse`, so what is
measured offline is what runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from aiops.rca.graph import CALLS, Edge, Related, ServiceGraph, learn_edges
from models.rankers.base import RankedCause, RootCauseRanker
from models.telemetry import LogTable, MetricFrame, SpanTable
from models.telemetry.graph import known_callees

if TYPE_CHECKING:
    from aiops.settings import RcaSettings


@dataclass(frozen=True)
class GraphOptions:
    max_lag_minutes: int = 10
    min_correlation: float = 0.6
    blast_depth: int = 3
    graph_series: int = 300  # an analysis learns its graph from at most this many series, the most deviant

    @classmethod
    def from_settings(cls, rca: RcaSettings) -> GraphOptions:
        """The options of the ``rca`` settings section."""
        return cls(rca.max_lag_minutes, rca.min_correlation, rca.blast_depth, rca.graph_series)


def most_deviant(frame: MetricFrame, start: float, limit: int) -> MetricFrame:
    """The ``limit`` series that moved most after ``start`` (all of them when there are fewer).

    All-pairs correlation grows with the square of the series count; services that did not
    move are not in a blast radius anyway, so an analysis only correlates the movers.
    """
    if len(frame.columns) <= limit:
        return frame
    from models.rankers.base import deviation  # the rankers' own measure of "moved"

    moved = np.abs(deviation(frame, start, robust=True, relative_floor=0.01).z)
    keep = np.sort(np.argsort(-moved, kind="stable")[:limit])
    return MetricFrame(frame.times, frame.step, [frame.columns[i] for i in keep], frame.values[keep])


@dataclass
class Analysis:
    ranking: list[RankedCause]
    graph: ServiceGraph
    blast_radius: list[Related] = field(default_factory=list)

    @property
    def root(self) -> RankedCause | None:
        return self.ranking[0] if self.ranking else None


def service_graph(frame: MetricFrame, declared: list[Edge], options: GraphOptions) -> ServiceGraph:
    learned = learn_edges(frame, options.max_lag_minutes, options.min_correlation) if frame.columns else []
    return ServiceGraph(learned + list(declared), set(frame.services))


def focus_on(ranking: list[RankedCause], service: str, graph: ServiceGraph) -> list[RankedCause]:
    """The causes that can explain trouble at ``service``: itself and what it calls, directly or not.

    A fault travels from a callee to its callers (a slow or failing dependency makes its
    callers slow or failing), so on a known call graph a service another fault is moving but
    ``service`` does not call cannot have caused ``service``'s trouble: at the same moment it
    is a second, unrelated problem (the dependency-graph view of root cause of the
    microservice RCA literature's call-graph walks, e.g. MicroRCA, Wu et al. 2020). Known
    calls are the declared and observed ones (:func:`~models.telemetry.graph.known_callees`).
    Those causes keep their order and their scores are made shares of what is left. The
    ranking is unchanged when ``service``'s calls are not known (no call edge names it) or
    when no ranked cause is among them. A service that call edges name only as a callee is
    taken to call nothing (a declared topology is whole: ``PUT /api/v1/topology`` replaces
    it), so its trouble is its own; a tenant whose topology misses calls turns the focus off
    (``rca.focus_on_calls``).

    >>> from models.rankers.base import RankedCause
    >>> from models.telemetry.graph import DECLARED, Edge, ServiceGraph
    >>> graph = ServiceGraph([Edge("web", "db", DECLARED, 1.0, 0)], {"web", "db", "batch"})
    >>> ranking = [RankedCause("batch", 0.5), RankedCause("db", 0.3), RankedCause("web", 0.2)]
    >>> [(c.service_id, c.score) for c in focus_on(ranking, "web", graph)]
    [('db', 0.6), ('web', 0.4)]
    """
    calls = [e for e in graph.edges if e.kind in CALLS]
    if not any(service in (e.source, e.target) for e in calls):
        return ranking
    reach = {service} | known_callees(graph).get(service, set())
    kept = [c for c in ranking if c.service_id in reach]
    if not kept:
        return ranking
    total = sum(max(c.score, 0.0) for c in kept)
    return [replace(c, score=max(c.score, 0.0) / total if total > 0 else 1.0 / len(kept))
            for c in kept]


def analyse(frame: MetricFrame, start: float, ranker: RootCauseRanker, *, declared: list[Edge] | None = None,
            options: GraphOptions | None = None, with_graph: bool = True, spans: SpanTable | None = None,
            logs: LogTable | None = None, focus: str | None = None) -> Analysis:
    """Rank every service of ``frame`` for an anomaly that began at ``start`` (unix seconds).

    With ``with_graph`` (the live path) the service graph is learned from the same frame
    (plus declared call edges) and the blast radius is what the top root cause reaches
    downstream within ``blast_depth`` hops. Offline evaluation skips learning unless the
    ranker uses learned edges; rankers always see the declared ones. ``spans`` and ``logs``
    are the window's traces and log records when there are any (offline: the case's
    ``traces.csv`` / ``logs.csv``; live: the stored spans and records), handed to the ranker.
    ``focus`` (live: the anomalous service) keeps the causes that can explain it (:func:`focus_on`).
    """
    options = options or GraphOptions()
    graph = ServiceGraph(list(declared or []), set(frame.services))
    if with_graph or ranker.uses_graph:
        graph = service_graph(most_deviant(frame, start, options.graph_series), declared or [], options)
        graph.services |= set(frame.services)
    ranking = ranker.rank(frame, start, graph, spans=spans, logs=logs)
    if focus is not None:
        ranking = focus_on(ranking, focus, graph)
    blast: list[Related] = []
    if with_graph and ranking:
        blast = graph.related(ranking[0].service_id, options.blast_depth, downstream_only=True)
    return Analysis(ranking, graph, blast)
