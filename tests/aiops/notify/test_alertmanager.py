"""Incidents as Alertmanager v2 postableAlerts: the schema's shape, Alertmanager's own checks, re-posting."""

from __future__ import annotations

import doctest
import re
from datetime import datetime, timedelta

import jsonschema
import orjson
import pytest

from aiops.incident.loop_guard import INCIDENT_LABEL, SENDER_LABEL
from aiops.incident.model import ChangeKind
from aiops.notify import alertmanager as module
from aiops.notify.alertmanager import ResendTiming, alert_labels, postable_alerts
from aiops.notify.channels import parse_channel
from aiops.notify.decision import notifications_for
from aiops.notify.outbound import render, render_resend
from aiops.notify.settings import NotificationSettings

# postableAlerts from Alertmanager's api/v2/openapi.yaml (Swagger 2.0 definitions), as JSON Schema.
LABEL_SET = {"type": "object", "additionalProperties": {"type": "string"}}
POSTABLE_ALERTS = {
    "type": "array",
    "items": {"allOf": [
        {"type": "object", "properties": {"startsAt": {"type": "string"}, "endsAt": {"type": "string"},
                                          "annotations": LABEL_SET}},
        {"type": "object", "properties": {"labels": LABEL_SET, "generatorURL": {"type": "string"}},
         "required": ["labels"]},
    ]},
}
# RFC 3339 date-time (section 5.6), the grammar go-openapi's strfmt parses.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # Alertmanager's (legacy) label name rule
CHANNEL = parse_channel({"name": "am", "type": "alertmanager", "url": "http://alertmanager.internal:9093"})


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def check_postable(body: bytes) -> list[dict]:
    """The schema, then what Alertmanager's Alert.Validate checks: labels present, names valid, start <= end."""
    alerts = orjson.loads(body)
    jsonschema.validate(alerts, POSTABLE_ALERTS)
    for alert in alerts:
        assert alert["labels"] and all(LABEL_NAME.fullmatch(k) and v for k, v in alert["labels"].items())
        assert all(LABEL_NAME.fullmatch(k) for k in alert.get("annotations", {}))
        for key in ("startsAt", "endsAt"):
            assert RFC3339.fullmatch(alert[key]), alert[key]
        starts, ends = (datetime.fromisoformat(alert[k]) for k in ("startsAt", "endsAt"))
        assert starts <= ends
    return alerts


def test_every_change_of_the_cascade_is_a_valid_post(changes) -> None:
    settings = NotificationSettings(public_url="https://aiops.example.com")
    previous = None
    for notification in notifications_for(changes, {"ch-am": CHANNEL}, settings):
        request = render(notification, CHANNEL, settings, now=notification.change.event.at, previous_labels=previous)
        assert request.url == "http://alertmanager.internal:9093/api/v2/alerts"
        alerts = check_postable(request.body)
        current = alerts[-1]
        incident = notification.change.incident
        assert current["labels"] == request.labels == alert_labels(incident, "aiops-engine")
        assert current["labels"][INCIDENT_LABEL] == incident.incident_id and current["labels"][SENDER_LABEL]
        assert current["generatorURL"] == f"https://aiops.example.com/api/v1/incidents/{incident.incident_id}"
        previous = request.labels


def test_labels_and_annotations_carry_root_cause_severity_blast_radius_and_fix(changes) -> None:
    known = next(c for c in changes if c.kind is ChangeKind.ROOT_CAUSE_KNOWN)
    [alert] = postable_alerts(known.incident, now=known.event.at, timing=ResendTiming(), sender="aiops-engine",
                              change=known)
    assert alert["labels"] == {"alertname": "AIOpsIncident", "tenant_id": "acme", "service_id": "db",
                               "severity": "critical", "aiops_sender": "aiops-engine",
                               INCIDENT_LABEL: known.incident.incident_id}
    notes = alert["annotations"]
    assert notes["blast_radius"] == "cart, api, web" and notes["suggested_fix"] == "fail over the primary"
    assert notes["description"] == "Root cause found: db" and "5 signals on 4 services" in notes["summary"]
    # Open: valid for 4 re-post intervals from now; the start is the earliest member's.
    assert alert["startsAt"] == "2026-03-02T09:00:00Z"
    assert datetime.fromisoformat(alert["endsAt"]) == known.event.at + timedelta(minutes=4)


def test_a_label_change_resolves_the_label_set_sent_before(changes) -> None:
    opened, known = changes[0], next(c for c in changes if c.kind is ChangeKind.ROOT_CAUSE_KNOWN)
    before = alert_labels(opened.incident, "aiops-engine")
    stale, current = postable_alerts(known.incident, now=known.event.at, timing=ResendTiming(),
                                     sender="aiops-engine", previous_labels=before)
    assert stale["labels"] == before and stale["labels"]["severity"] == "warning"
    assert datetime.fromisoformat(stale["endsAt"]) == known.event.at  # resolved at once
    assert current["labels"]["severity"] == "critical"
    assert len(postable_alerts(known.incident, now=known.event.at, timing=ResendTiming(), sender="aiops-engine",
                               previous_labels=current["labels"])) == 1


def test_resolve_sends_ends_at_the_resolution(changes) -> None:
    resolved = changes[-1]
    request = render(notifications_for([resolved], {"ch-am": CHANNEL}, NotificationSettings())[0], CHANNEL,
                     NotificationSettings(), now=resolved.event.at + timedelta(seconds=5))
    [alert] = check_postable(request.body)
    assert datetime.fromisoformat(alert["endsAt"]) == resolved.incident.resolved_at
    assert alert["annotations"]["status"] == "resolved"


def test_open_incidents_are_reposted_well_inside_their_validity(changes) -> None:
    incident = changes[1].incident
    timing = ResendTiming(resend_seconds=60, validity_factor=4)
    first = incident.opened_at
    posts = timing.schedule(first, first + timedelta(minutes=10))
    assert posts == [first + timedelta(minutes=m) for m in range(10)]
    # At every instant while open, the latest post keeps the alert firing for 3 more minutes at least.
    for sent in posts:
        assert timing.valid_until(sent) - timing.next_resend(sent) == timedelta(minutes=3)
    assert timing.due(None, first) and not timing.due(first, first + timedelta(seconds=59))
    assert timing.due(first, first + timedelta(seconds=60))
    with pytest.raises(ValueError):
        ResendTiming(60, 1)
    channel = parse_channel({"name": "am", "type": "alertmanager", "url": "http://am:9093/api/v2/alerts",
                             "resend_seconds": 30, "bearer_token": "t0ken-t0ken-t0ken"})
    now = first + timedelta(minutes=3)
    request = render_resend(incident, channel, NotificationSettings(), now=now)
    [alert] = check_postable(request.body)
    assert datetime.fromisoformat(alert["endsAt"]) == now + timedelta(seconds=120)  # 4 x 30 s
    assert request.url == "http://am:9093/api/v2/alerts" and request.headers["Authorization"] == \
        "Bearer t0ken-t0ken-t0ken"
