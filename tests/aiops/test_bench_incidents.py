"""The incident replay's RCA: deterministic, and never shown data from after the moment it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from aiops.bench.incident_metrics import ReplayMetrics, simulate_metrics
from aiops.bench.incidents import engine_analyst, replay_incidents, score, simulate, undeclared
from aiops.incident.settings import IncidentGroupingSettings
from models.telemetry import MetricFrame


@dataclass(frozen=True)
class Watched(ReplayMetrics):
    """The replay's metrics, remembering every window an analysis asked for."""

    windows: list[tuple[datetime, datetime]] = field(default_factory=list)

    def frame(self, since: datetime, until: datetime) -> MetricFrame:
        self.windows.append((since, until))
        return super().frame(since, until)


def test_the_metrics_are_the_same_for_a_seed_and_faults_reach_callers_through_calls() -> None:
    replay = simulate(1)
    first, again = simulate_metrics(replay, 1), simulate_metrics(replay, 1)
    assert np.array_equal(first.latency, again.latency) and np.array_equal(first.errors, again.errors)
    assert not np.array_equal(first.latency, simulate_metrics(replay, 2).latency)
    # A caller waits for its callees: its latency is never below any callee's share of it.
    row = {s: i for i, s in enumerate(first.services)}
    caller, callees = next((c, v) for c, v in replay.calls.items() if v)
    assert np.all(first.latency[row[caller]] > 0.3 * first.latency[row[callees[0]]])


def test_an_analysis_sees_nothing_after_the_moment_it_runs() -> None:
    replay = simulate(0)
    plain = simulate_metrics(replay, 0)
    metrics = Watched(plain.times, plain.services, plain.latency, plain.errors)
    asked: list[datetime] = []
    analyst = engine_analyst(replay, metrics)

    def recording(incident, request, now):
        asked.append(now)
        return analyst(incident, request, now)

    result = replay_incidents(replay, IncidentGroupingSettings(max_resolved_kept=10_000), recording)
    assert len(metrics.windows) == len(asked) > 0
    assert all(until <= now for (_, until), now in zip(metrics.windows, asked, strict=True))
    assert 0 <= score(replay, result).root_cause_right <= 1


def test_a_topology_missing_calls_drops_only_calls() -> None:
    replay = simulate(0)
    partial = undeclared(replay, 0.5, 0)
    edges = {(a, b) for a, callees in replay.calls.items() for b in callees}
    kept = {(a, b) for a, callees in partial.calls.items() for b in callees}
    assert kept < edges and len(kept) > 0
    assert partial.signals == replay.signals and partial.faults == replay.faults
