"""The loop guard recognises the engine's own alerts by their labels, and only those."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime

from aiops.incident import loop_guard
from aiops.incident.loop_guard import (
    INCIDENT_LABEL,
    SENDER_LABEL,
    engine_incident_id,
    engine_labels,
    sent_by_engine,
)
from aiops.incident.model import Incident, IncidentStatus, Severity, Signal, SignalKind
from aiops.notify.alertmanager import ResendTiming, alert_labels, postable_alerts

INCIDENT = "inc-1f2e3d4c5b6a7988"


def test_doctests() -> None:
    assert doctest.testmod(loop_guard).failed == 0


def test_the_labels_the_engine_posts_are_recognised() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    member = Signal("acme", "a1", SignalKind.WATCHDOG_EPISODE, "db", t0)
    incident = Incident("acme", INCIDENT, IncidentStatus.OPEN, t0, t0, None, Severity.ERROR, (member,), ())
    [alert] = postable_alerts(incident, now=t0, timing=ResendTiming(), sender="engine-eu")
    # What Alertmanager sends back to 9093: the alert's labels as posted (plus commonLabels).
    assert engine_incident_id(alert["labels"], sender="engine-eu") == INCIDENT
    assert alert["labels"] == alert_labels(incident, "engine-eu")


def test_other_alerts_are_not_the_engines() -> None:
    assert not sent_by_engine({"alertname": "HighLatency", "service": "db"})
    assert engine_incident_id({"alertname": "HighLatency"}) is None
    # Another engine's incident alert is an ordinary alert here.
    other = engine_labels(INCIDENT, sender="engine-us")
    assert not sent_by_engine(other, sender="engine-eu") and engine_incident_id(other, sender="engine-eu") is None


def test_the_incident_label_alone_marks_it_and_a_malformed_id_names_nothing() -> None:
    assert engine_incident_id({INCIDENT_LABEL: INCIDENT}) == INCIDENT  # marker relabelled away
    assert not sent_by_engine({INCIDENT_LABEL: "inc-not-hex"})
    assert sent_by_engine({SENDER_LABEL: "aiops-engine", INCIDENT_LABEL: "inc-x"})  # marked: never a new incident
    assert engine_incident_id({SENDER_LABEL: "aiops-engine", INCIDENT_LABEL: "inc-x"}) is None
