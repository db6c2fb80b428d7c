"""The service graph as plain data: edges between services and the walk over them.

An edge ``u -> v`` means a change in ``u`` shows up in ``v`` ``lag`` minutes later
(``kind="learned"``), or that ``u`` calls ``v`` (``kind="declared"``, from
``PUT /api/v1/topology``, or ``kind="observed"``, seen in the tenant's spans; a fault in a
callee reaches its callers, so for propagation a call edge is read backwards).

These types sit under ``models/`` so rankers, storage and the API share them without
importing the analysis that learns edges (``aiops/rca/graph.py``, which needs torch).
networkx is imported only when a graph is built, so importing the types is cheap.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

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
        import networkx as nx  # only where a graph is built: storage and the API import these types

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


def known_callees(graph: ServiceGraph | None) -> dict[str, set[str]]:
    """Each service's known callees (``CALLS`` edges: declared or observed), direct and indirect.

    Services that call nothing may be absent; ``{}`` without a graph. Rankers use it to put
    a callee before its callers where they tie (a fault in a callee reaches its callers).
    """
    direct: dict[str, set[str]] = {}
    for edge in graph.edges if graph is not None else []:
        if edge.kind in CALLS:
            direct.setdefault(edge.source, set()).add(edge.target)
    reach: dict[str, set[str]] = {}
    for service in direct:
        seen: set[str] = set()
        stack = list(direct[service])
        while stack:
            callee = stack.pop()
            if callee not in seen:
                seen.add(callee)
                stack.extend(direct.get(callee, ()))
        reach[service] = seen
    return reach
