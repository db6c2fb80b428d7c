"""Metrics for the incident replay, so that its incidents are analysed by the engine's own RCA.

:func:`simulate_metrics` gives every service of a :class:`~aiops.bench.incidents.Replay` two
series on a one-minute grid over the whole replay: ``latency_ms`` (mean request latency) and
``error_ratio`` (failed share of requests). They follow a plain queueing picture of a call
tree, so a fault reaches callers through the calls and not through anything the bench knows:

- each service spends its own time per request (a log-normal base of about 15 ms, a shared
  daily load curve, 4 % AR(1) wander and 5 % white noise) and waits for its callees:
  ``latency(s) = own(s) + sum over callees c of calls(s, c) * latency(c)``, with
  ``calls(s, c)`` drawn in [0.3, 1.2] per edge (some requests skip a call, some make two);
- its own failures (0.1-1 %) plus the share of its callees' failures it does not retry away
  (30-80 % per edge) make its error ratio;
- a fault multiplies its root's own time by 3-10 (two thirds of faults) or adds 5-30 %
  failures at the root (the rest), ramping in over two minutes, for the fault's length;
- benign blips on random services, one an hour on average (own time x 1.5-3 for 1-3
  minutes), go through the same sums: the ranking must not take them for causes.

:func:`analyse_request` answers one of the grouper's RCA requests as a live RCA worker would
(:meth:`aiops.rca.runner.RcaRunner.analyse`): the analysed signal's start, the window from
``rca.lookback_minutes`` before it to ``rca.after_minutes`` after it but never past the
moment of the analysis (no future data), the declared call edges, the tenant default
ranker, the focus on the signal's service (``rca.focus_on_calls``) and
:func:`aiops.rca.analysis.analyse`. The root cause is the top of the ranking and the blast
radius what it reaches within ``rca.blast_depth`` hops, as the incident manager records them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from aiops.rca.analysis import GraphOptions, analyse
from aiops.rca.graph import DECLARED, Edge
from aiops.settings import RcaSettings
from models.rankers.base import RootCauseRanker
from models.telemetry import MetricFrame

if TYPE_CHECKING:
    from aiops.bench.incidents import Replay
    from aiops.incident.grouping import RcaRequest

STEP_SECONDS = 60.0
METRICS = ("latency_ms", "error_ratio")
LATENCY_FAULT_SHARE = 2 / 3
BLIPS_PER_HOUR = 1.0


@dataclass(frozen=True)
class ReplayMetrics:
    """Every service's two series on the replay's grid: row ``i`` of ``latency`` and ``errors`` is ``services[i]``."""

    times: np.ndarray  # (T,) unix seconds, one per minute
    services: tuple[str, ...]
    latency: np.ndarray  # (S, T) ms
    errors: np.ndarray  # (S, T) ratio in [0, 1]

    def frame(self, since: datetime, until: datetime) -> MetricFrame:
        """The grid steps in ``[since, until)`` as the storage owner's ``metric_frame`` would give them."""
        keep = (self.times >= since.timestamp()) & (self.times < until.timestamp())
        columns = [(s, m) for s in self.services for m in METRICS]
        values = np.stack([self.latency[:, keep], self.errors[:, keep]], axis=1).reshape(len(columns), -1)
        return MetricFrame(self.times[keep], STEP_SECONDS, columns, values)


def _bottom_up(calls: dict[str, list[str]], services: list[str]) -> list[str]:
    """Callees before their callers (the replay's call graph has no cycles)."""
    order, done = [], set()

    def visit(service: str) -> None:
        if service in done:
            return
        done.add(service)
        for callee in calls.get(service, []):
            visit(callee)
        order.append(service)

    for service in services:
        visit(service)
    return order


def simulate_metrics(replay: Replay, seed: int = 0) -> ReplayMetrics:
    """The replay's metrics (see the module docstring); deterministic in ``seed``."""
    rng = np.random.default_rng(10_000 + seed)
    services = sorted({s for caller, callees in replay.calls.items() for s in (caller, *callees)})
    index = {s: i for i, s in enumerate(services)}
    first = min(f.started_at for f in replay.faults) - timedelta(hours=2)
    last = max(s.ended_at or s.started_at for s in replay.signals) + timedelta(hours=1)
    times = np.arange(first.timestamp() // 60 * 60, last.timestamp(), STEP_SECONDS)
    n, t = len(services), len(times)

    base = rng.lognormal(np.log(15.0), 0.5, n)
    load = 1 + 0.25 * np.sin(2 * np.pi * (times % 86_400) / 86_400)
    wander = np.zeros((n, t))
    shocks = rng.normal(0, 0.04 * np.sqrt(1 - 0.9 ** 2), (n, t))
    for step in range(1, t):
        wander[:, step] = 0.9 * wander[:, step - 1] + shocks[:, step]
    own = base[:, None] * load[None, :] * (1 + wander + rng.normal(0, 0.05, (n, t)))
    own_errors = rng.uniform(0.001, 0.01, n)[:, None] * (1 + rng.normal(0, 0.2, (n, t)))

    for _ in range(rng.poisson(BLIPS_PER_HOUR * (times[-1] - times[0]) / 3600)):
        where, at = int(rng.integers(n)), int(rng.integers(t))
        own[where, at:at + int(rng.integers(1, 4))] *= rng.uniform(1.5, 3.0)
    for fault in replay.faults:
        ramp = np.clip((times - fault.started_at.timestamp()) / 120.0, 0, 1)
        ramp[times >= fault.ended_at.timestamp()] = 0
        root = index[fault.root]
        if rng.random() < LATENCY_FAULT_SHARE:
            own[root] *= 1 + ramp * rng.uniform(2.0, 9.0)
        else:
            own_errors[root] += ramp * rng.uniform(0.05, 0.30)
    own_errors = np.clip(own_errors, 0, 1)

    latency, errors = np.zeros((n, t)), np.zeros((n, t))
    for service in _bottom_up(replay.calls, services):
        i = index[service]
        latency[i], passed = own[i], 1 - own_errors[i]
        for callee in replay.calls.get(service, []):
            j = index[callee]
            latency[i] = latency[i] + rng.uniform(0.3, 1.2) * latency[j]
            passed = passed * (1 - rng.uniform(0.3, 0.8) * errors[j])
        errors[i] = 1 - passed
    return ReplayMetrics(times, tuple(services), latency, errors)


def analyse_request(metrics: ReplayMetrics, replay: Replay, request: RcaRequest, now: datetime,
                    ranker: RootCauseRanker, rca: RcaSettings) -> tuple[str | None, tuple[str, ...]]:
    """(root cause, blast radius) as a live RCA worker answers ``request`` at ``now`` (see the
    module docstring); ``replay.calls`` are the declared calls the analysis is given."""
    signal = next(s for s in replay.signals if s.signal_id == request.analysed_signal_id)
    start = signal.started_at
    until = min(start + timedelta(minutes=rca.after_minutes), now)
    frame = metrics.frame(start - timedelta(minutes=rca.lookback_minutes), until)
    declared = [Edge(a, b, DECLARED, 1.0, 0) for a, callees in replay.calls.items() for b in callees]
    focus = signal.service_id if rca.focus_on_calls else None
    result = analyse(frame, start.timestamp(), ranker, declared=declared, options=GraphOptions.from_settings(rca),
                     focus=focus)
    if result.root is None:
        return None, ()
    return result.root.service_id, tuple(r.service_id for r in result.blast_radius)
