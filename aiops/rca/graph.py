"""Learning the service correlation graph: lagged edges between services from their metrics.

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

from itertools import combinations

import numpy as np

from aiops.rca.correlation import lagged_correlation
from models.telemetry.graph import CALLS, DECLARED, LEARNED, OBSERVED, Edge, Related, ServiceGraph
from models.telemetry.metrics import MetricFrame

# The graph's types live in models/telemetry/graph.py; re-exported for the analysis code.
__all__ = ["CALLS", "DECLARED", "LEARNED", "OBSERVED", "Edge", "Related", "ServiceGraph", "learn_edges",
           "prune_indirect"]


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
