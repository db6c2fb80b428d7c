"""The service graph grouping walks: who calls whom, as a plain adjacency of service names.

The engine knows edges from three places: declared topology, calls observed in traces,
and correlation edges its RCA learned. The caller merges them into one adjacency
``caller -> callees`` (a learned edge whose direction is unknown goes in both ways).
Faults propagate against the call direction: when a service slows, its callers slow.

>>> graph = ServiceGraph({"web": ["cart", "auth"], "cart": ["db"]})
>>> sorted(graph.within("cart", 1))
['cart', 'db', 'web']
>>> graph.depends_on("web", "db", hops=2), graph.depends_on("db", "web", hops=2)
(True, False)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping


class ServiceGraph:
    """An immutable call graph; walks are breadth-first and cached per (service, hops)."""

    def __init__(self, calls: Mapping[str, Iterable[str]] | None = None) -> None:
        callees: dict[str, set[str]] = {}
        callers: dict[str, set[str]] = {}
        for caller, targets in (calls or {}).items():
            for callee in targets:
                if callee == caller:
                    continue
                callees.setdefault(caller, set()).add(callee)
                callers.setdefault(callee, set()).add(caller)
        self._callees = {k: frozenset(v) for k, v in callees.items()}
        self._callers = {k: frozenset(v) for k, v in callers.items()}
        self._balls: dict[tuple[str, int], frozenset[str]] = {}
        self._reach: dict[tuple[str, int], frozenset[str]] = {}

    @classmethod
    def from_edges(cls, edges: Iterable[tuple[str, str]]) -> ServiceGraph:
        """From ``(caller, callee)`` pairs."""
        calls: dict[str, list[str]] = {}
        for caller, callee in edges:
            calls.setdefault(caller, []).append(callee)
        return cls(calls)

    @property
    def services(self) -> frozenset[str]:
        return frozenset(self._callees) | frozenset(self._callers)

    def callees(self, service: str) -> frozenset[str]:
        return self._callees.get(service, frozenset())

    def callers(self, service: str) -> frozenset[str]:
        return self._callers.get(service, frozenset())

    def within(self, service: str, hops: int) -> frozenset[str]:
        """Services at most ``hops`` edges away in either direction, ``service`` included."""
        key = (service, hops)
        if key not in self._balls:
            self._balls[key] = self._walk(service, hops, lambda s: self.callees(s) | self.callers(s))
        return self._balls[key]

    def dependencies(self, service: str, hops: int) -> frozenset[str]:
        """Services ``service`` calls, directly or through at most ``hops`` edges (itself excluded)."""
        key = (service, hops)
        if key not in self._reach:
            self._reach[key] = self._walk(service, hops, self.callees) - {service}
        return self._reach[key]

    def depends_on(self, service: str, other: str, hops: int) -> bool:
        """Whether ``service`` calls ``other`` within ``hops`` edges: a fault in ``other`` can reach it."""
        return other in self.dependencies(service, hops)

    @staticmethod
    def _walk(start: str, hops: int, step) -> frozenset[str]:
        seen = {start}
        frontier = deque([(start, 0)])
        while frontier:
            service, depth = frontier.popleft()
            if depth == hops:
                continue
            for nxt in step(service):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append((nxt, depth + 1))
        return frozenset(seen)
