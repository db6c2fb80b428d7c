"""The service correlation graph: learned lagged edges plus declared call edges, in networkx.

An edge ``u -> v`` means a change in ``u`` shows up in ``v`` ``lag`` minutes later
(``kind="learned"``), or that ``u`` calls ``v`` (``kind="declared"``, from
``PUT /api/v1/topology``, or ``kind="observed"``, seen in the tenant's spans; a fault in a
callee reaches its callers, so for propagation a call edge is read backwards). Learned
edges are pruned with the data-processing inequality (as ARACNE does): in a triangle whose
weakest edge is explained by the other two, lags adding up, that edge is an indirect
effect and is dropped. That keeps a chain A -> B -> C a chain instead of a clique, which
is what makes depth meaningful.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import combinations

import networkx as nx
import numpy as np

from aiops.rca.correlation import lagged_correlation
from aiops.rca.frame import MetricFrame

LEARNED = "learned"
DECLARED = "declared"
OBSERVED = "observed"
CALLS = frozenset({DECLARED, OBSERVED})  # edges that say "u calls v"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str
    correlation_score: float
    lag_minutes: int
    metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Related:
    """A service reached from an origin: cumulative lag, path strength and hop count."""

    service_id: str
    correlation_score: float
    lag_minutes: int
    depth: int

    @property
    def direction(self) -> str:
        return "upstream" if self.lag_minutes < 0 else "downstream"


@dataclass
class ServiceGraph:
    edges: list[Edge] = field(default_factory=list)
    services: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.services |= {e.source for e in self.edges} | {e.target for e in self.edges}

    def graph(self) -> nx.DiGraph:
        """Propagation view: ``u -> v`` when trouble in ``u`` reaches ``v`` (declared edges reversed).

        A declared call adds an edge only where no learned one already says the same: the
        learned edge carries a measured lag and strength, the declaration only that the
        path exists (lag 0, strength 1).
        """
        g = nx.DiGraph()
        g.add_nodes_from(self.services)
        for e in sorted(self.edges, key=lambda e: e.kind != LEARNED):  # learned first
            if e.kind in CALLS:
                if not g.has_edge(e.target, e.source):
                    g.add_edge(e.target, e.source, score=1.0, lag=0, kind=e.kind)
                continue
            old = g.get_edge_data(e.source, e.target)
            if old is None or e.correlation_score > old["score"]:
                g.add_edge(e.source, e.target, score=e.correlation_score, lag=e.lag_minutes, kind=LEARNED)
            if e.lag_minutes == 0 and not g.has_edge(e.target, e.source):
                g.add_edge(e.target, e.source, score=e.correlation_score, lag=0, kind=LEARNED)
        return g

    def related(self, origin: str, depth: int, downstream_only: bool = False) -> list[Related]:
        """Services within ``depth`` hops of ``origin`` (breadth first, strongest path first).

        Walking an edge forwards adds its lag, backwards subtracts it, so a service that
        moved before the origin comes out with a negative lag (upstream). With
        ``downstream_only`` the walk follows propagation direction only (blast radius).
        """
        g = self.graph()
        if origin not in g:
            return []
        seen = {origin: Related(origin, 1.0, 0, 0)}
        queue = deque([origin])
        while queue:
            node = queue.popleft()
            here = seen[node]
            if here.depth >= depth:
                continue
            steps = [(v, d, +1) for v, d in g.succ[node].items()]
            if not downstream_only:
                steps += [(u, d, -1) for u, d in g.pred[node].items()]
            for other, data, sign in sorted(steps, key=lambda s: -s[1]["score"]):
                if other in seen:
                    continue
                seen[other] = Related(other, here.correlation_score * data["score"],
                                      here.lag_minutes + sign * data["lag"], here.depth + 1)
                queue.append(other)
        return [r for name, r in seen.items() if name != origin]


def learn_edges(frame: MetricFrame, max_lag_minutes: int, min_correlation: float, *, detrend: bool = True,
                prune: bool = True) -> list[Edge]:
    """Learned edges between the services of ``frame``, from its metric series."""
    step_minutes = frame.step / 60.0
    max_lag = int(round(max_lag_minutes / step_minutes)) if step_minutes > 0 else 0
    result = lagged_correlation(frame.values, max_lag, detrend=detrend)
    owners = np.array([service for service, _ in frame.columns], dtype=object)
    metrics = [metric for _, metric in frame.columns]
    strength = np.abs(result.score)
    np.fill_diagonal(strength, 0.0)
    strength[owners[:, None] == owners[None, :]] = 0.0  # a service's own metrics are not an edge
    best: dict[tuple[str, str], tuple[float, int, int, int]] = {}
    rows, cols = np.nonzero(np.triu(strength >= min_correlation))
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        pair = tuple(sorted((owners[i], owners[j])))
        if pair not in best or strength[i, j] > best[pair][0]:
            best[pair] = (float(strength[i, j]), i, j, int(result.lag[i, j]))
    edges = []
    for score, i, j, lag in best.values():
        if lag < 0:  # make the edge point from the service that moves first
            i, j, lag = j, i, -lag
        edges.append(Edge(owners[i], owners[j], LEARNED, round(score, 4), int(round(lag * step_minutes)),
                          (metrics[i], metrics[j])))
    return prune_indirect(edges) if prune else edges


def prune_indirect(edges: list[Edge], lag_tolerance: int = 1) -> list[Edge]:
    """Drop each triangle's weakest edge when the other two explain it (data-processing inequality)."""
    signed: dict[tuple[str, str], tuple[float, int]] = {}
    for e in edges:
        signed[(e.source, e.target)] = (e.correlation_score, e.lag_minutes)
        signed[(e.target, e.source)] = (e.correlation_score, -e.lag_minutes)
    neighbours: dict[str, set[str]] = {}
    for a, b in signed:
        neighbours.setdefault(a, set()).add(b)
    dropped: set[frozenset[str]] = set()
    for a in sorted(neighbours):
        for b, c in combinations(sorted(neighbours[a]), 2):
            if a > b or b > c or c not in neighbours[b]:
                continue  # each triangle once, with a < b < c
            sides = {frozenset((a, b)): (a, b), frozenset((b, c)): (b, c), frozenset((a, c)): (a, c)}
            weakest = min(sides, key=lambda k: signed[sides[k]][0])
            x, y = sides[weakest]
            z = next(iter({a, b, c} - {x, y}))
            direct_score, direct_lag = signed[(x, y)]
            via = [signed[(x, z)], signed[(z, y)]]
            if all(direct_score < score for score, _ in via) and \
                    abs(direct_lag - (via[0][1] + via[1][1])) <= lag_tolerance:
                dropped.add(weakest)
    return [e for e in edges if frozenset((e.source, e.target)) not in dropped]
