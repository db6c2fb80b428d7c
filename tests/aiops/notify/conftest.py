"""A cascading fault grouped for real: the incident and state changes notification tests start from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiops.clock import ManualClock
from aiops.incident.graph import ServiceGraph
from aiops.incident.grouping import IncidentGrouper
from aiops.incident.model import Severity, Signal, SignalKind, StateChange
from aiops.incident.settings import IncidentGroupingSettings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GRAPH = ServiceGraph({"web": ["api"], "api": ["cart"], "cart": ["db"]})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def cascade_changes() -> list[StateChange]:
    """Every state change of one cascading fault, from opening to auto-resolve."""
    clock = ManualClock(T0)
    grouper = IncidentGrouper("acme", IncidentGroupingSettings(quiet_seconds=300), clock, GRAPH)
    changes: list[StateChange] = []
    signals = [("db", "db", 0, Severity.WARNING), ("cart", "cart", 60, Severity.WARNING),
               ("api", "api", 120, Severity.ERROR), ("web", "web", 180, Severity.WARNING)]
    opened = None
    for signal_id, service, start, severity in signals:
        clock.set(at(start))
        outcome = grouper.observe(Signal("acme", signal_id, SignalKind.WATCHDOG_EPISODE, service, at(start), None,
                                         severity, 0.99))
        opened = opened or outcome.incident_id
        changes.extend(outcome.changes)
    clock.set(at(240))
    alert = Signal("acme", "am-web", SignalKind.ALERTMANAGER_ALERT, "web", at(240), None, Severity.CRITICAL, 1.0,
                   labels={"alertname": "HighLatency", "service": "web"})
    changes.extend(grouper.observe(alert).changes)
    clock.set(at(300))
    changes.extend(grouper.record_analysis(opened, "db", ["cart", "api", "web"],
                                           suggested_fix="fail over the primary").changes)
    for signal_id, service, start, severity in signals:
        clock.set(at(900))
        changes.extend(grouper.observe(Signal("acme", signal_id, SignalKind.WATCHDOG_EPISODE, service, at(start),
                                              at(900), severity, 0.99)).changes)
    changes.extend(grouper.observe(Signal("acme", "am-web", SignalKind.ALERTMANAGER_ALERT, "web", at(240), at(900),
                                          Severity.CRITICAL, 1.0)).changes)
    clock.set(at(1200))
    for outcome in grouper.tick():
        changes.extend(outcome.changes)
    return changes


@pytest.fixture
def changes() -> list[StateChange]:
    return cascade_changes()
