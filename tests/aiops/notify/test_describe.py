"""Words about an incident: what is looked up in the incident memory."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

from aiops.incident.model import Incident, IncidentStatus, Severity, Signal, SignalKind
from aiops.notify import describe as module
from aiops.notify.describe import memory_queries

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def test_memory_queries_name_members_earliest_first_and_the_root_cause() -> None:
    later = Signal("t", "b", SignalKind.WATCHDOG_EPISODE, "api", T0 + timedelta(seconds=5))
    alert = Signal("t", "a", SignalKind.ALERTMANAGER_ALERT, "db", T0,
                   labels={"alertname": "SlowQueries", "summary": "queries time out", "team": "x"})
    incident = Incident("t", "inc-1", IncidentStatus.OPEN, T0, T0, None, Severity.ERROR, (later, alert), (),
                        root_cause="db")
    assert memory_queries(incident) == ["db SlowQueries queries time out", "api", "db is the root cause"]
    many = tuple(Signal("t", f"s{i}", SignalKind.WATCHDOG_EPISODE, f"svc{i}", T0 + timedelta(seconds=i))
                 for i in range(20))
    assert len(memory_queries(Incident("t", "inc-2", IncidentStatus.OPEN, T0, T0, None, Severity.ERROR, many, ()),
                              max_members=8)) == 8
