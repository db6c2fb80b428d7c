"""A simulated shop of 14 microservices: a call graph, daily seasonality, noise, and faults.

Per service and minute: ``cpu`` (%), ``latency_ms`` and ``error_rate`` (%). A caller's
latency is its own plus its callees' of one minute earlier (synchronous calls add up, one
hop per minute on this grid); its error rate inherits most of its callees'. So a fault in
a deep service reaches the front end a few minutes later, as it does in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

CALLS = [
    ("frontend", "cart"), ("frontend", "catalogue"), ("frontend", "checkout"), ("frontend", "user"),
    ("checkout", "payment"), ("checkout", "shipping"), ("checkout", "orders"),
    ("cart", "cart-db"), ("catalogue", "catalogue-db"), ("user", "user-db"), ("orders", "orders-db"),
    ("shipping", "queue"), ("payment", "payment-gateway"),
]
METRICS = ("cpu", "latency_ms", "error_rate")
FAULTS = {
    "cpu_saturation": "CPU saturation",
    "latency_leak": "latency leak",
    "error_burst": "error burst",
}


@dataclass(frozen=True)
class Fault:
    kind: str  # a key of FAULTS
    service: str
    start: int  # minute index
    minutes: int


@dataclass
class System:
    seed: int = 7
    graph: nx.DiGraph = field(init=False)
    services: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.graph = nx.DiGraph(CALLS)
        # Callees before callers, so a caller can add up what its callees just did.
        self.services = list(reversed(list(nx.topological_sort(self.graph))))
        rng = np.random.default_rng(self.seed)
        self._cpu = {s: float(rng.uniform(15, 40)) for s in self.services}
        self._latency = {s: float(rng.uniform(4, 25)) for s in self.services}

    def generate(self, start_unix: float, minutes: int, faults: list[Fault],
                 seed: int) -> dict[tuple[str, str], np.ndarray]:
        """Per-minute values of every (service, metric) from ``start_unix`` for ``minutes``."""
        return self.simulate(start_unix, minutes, faults, seed)[0]

    def simulate(self, start_unix: float, minutes: int, faults: list[Fault],
                 seed: int) -> tuple[dict[tuple[str, str], np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """:meth:`generate`'s metrics, and per service and minute its own work (ms, without its
        callees') and its own error rate (%, without what it inherits): what its spans show."""
        rng = np.random.default_rng(seed)
        t = start_unix + 60.0 * np.arange(minutes)
        load = 1 + 0.3 * np.sin(2 * np.pi * (t / 86400.0 - 0.25))  # busiest mid-afternoon UTC
        out: dict[tuple[str, str], np.ndarray] = {}
        own_ms: dict[str, np.ndarray] = {}
        own_errors: dict[str, np.ndarray] = {}
        for service in self.services:
            cpu = self._cpu[service] * load + rng.normal(0, 1.5, minutes)
            own = self._latency[service] * (0.9 + 0.1 * load) + rng.normal(0, 0.6, minutes)
            errors = np.abs(rng.normal(0.2, 0.05, minutes))
            for f in faults:
                if f.service != service:
                    continue
                span = slice(f.start, min(minutes, f.start + f.minutes))
                ramp = np.arange(span.stop - span.start, dtype=float)
                if f.kind == "cpu_saturation":
                    cpu[span] = 96 + rng.normal(0, 1.5, ramp.size)
                    own[span] += 3 * self._latency[service]
                elif f.kind == "latency_leak":
                    own[span] += 6 + 5 * ramp
                    cpu[span] += 5
                elif f.kind == "error_burst":
                    errors[span] += 25 + rng.normal(0, 2, ramp.size)
            own_ms[service], own_errors[service] = np.maximum(own, 0.1), np.clip(errors, 0, 100)
            latency, error_rate = own.copy(), errors.copy()
            for callee in self.graph.successors(service):
                latency[1:] += out[(callee, "latency_ms")][:-1]
                latency[0] += out[(callee, "latency_ms")][0]
                error_rate[1:] += 0.8 * out[(callee, "error_rate")][:-1]
            out[(service, "cpu")] = np.clip(cpu, 0, 100)
            out[(service, "latency_ms")] = np.maximum(latency, 0.1)
            out[(service, "error_rate")] = np.clip(error_rate, 0, 100)
        return out, own_ms, own_errors

    def blast_radius(self, service: str) -> set[str]:
        """The services a fault in ``service`` reaches: its callers, transitively."""
        return nx.ancestors(self.graph, service)
