"""An incident as an Alertmanager alert: the ``postableAlerts`` body of ``POST /api/v2/alerts``.

Shape (Alertmanager ``api/v2/openapi.yaml``): a list of ``{labels, annotations, startsAt,
endsAt, generatorURL}``; labels and annotations are string maps, times RFC 3339.

Labels (the alert's identity to Alertmanager): ``alertname="AIOpsIncident"``, ``tenant_id``,
``service_id`` (the root cause when known, else the earliest member's service),
``severity``, ``aiops_incident_id`` and ``aiops_sender`` (the loop guard's marker,
:mod:`aiops.incident.loop_guard`). Annotations: ``summary``, ``description`` (what
changed last), ``blast_radius``, ``suggested_fix``, ``members``, ``status``.

**Staying open.** Alertmanager keeps an alert firing until its ``endsAt``; one posted
without ``endsAt`` gets ``now + resolve_timeout`` (5 m by default) and is resolved unless
re-posted. Like Prometheus (which posts ``endsAt = now + 4 x resend delay`` and re-posts
every resend delay), the engine sets ``endsAt`` itself to ``sent_at + validity_factor x
resend_seconds`` and re-posts every ``resend_seconds`` while the incident is open
(:class:`ResendTiming`), so the receiving Alertmanager's ``resolve_timeout`` does not
matter and it resolves the alert on its own only after several missed re-posts (the
engine down). On resolve, ``endsAt`` is the resolution time.

**Changing labels.** Root cause and severity are labels, so when either changes the alert
is a new one to Alertmanager. :func:`postable_alerts` then also posts the label set sent
before with ``endsAt`` now, so the old one resolves at once instead of lingering until its
``endsAt``. Route these alerts with ``group_by: ['aiops_incident_id']`` and the old and new
alert land in one group: one notification, not a resolve and a new page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiops.incident.loop_guard import engine_labels
from aiops.incident.model import Incident, StateChange
from aiops.notify.describe import anchor_service, headline, incident_url, rfc3339, summary

ALERTNAME = "AIOpsIncident"
MAX_ANNOTATION_CHARS = 2000


@dataclass(frozen=True)
class ResendTiming:
    """When an open incident is re-posted and how long each post keeps it firing.

    >>> from datetime import UTC, datetime
    >>> timing = ResendTiming(60, 4)
    >>> sent = datetime(2026, 1, 1, tzinfo=UTC)
    >>> timing.valid_until(sent).time(), timing.next_resend(sent).time()
    (datetime.time(0, 4), datetime.time(0, 1))
    """

    resend_seconds: float = 60.0
    validity_factor: float = 4.0

    def __post_init__(self) -> None:
        if self.resend_seconds <= 0 or self.validity_factor < 2:
            raise ValueError("resend_seconds must be positive and validity_factor at least 2 (one missed re-post "
                             "must not resolve the alert)")

    def valid_until(self, sent_at: datetime) -> datetime:
        return sent_at + timedelta(seconds=self.resend_seconds * self.validity_factor)

    def next_resend(self, sent_at: datetime) -> datetime:
        return sent_at + timedelta(seconds=self.resend_seconds)

    def due(self, last_sent_at: datetime | None, now: datetime) -> bool:
        """Whether an open incident last posted at ``last_sent_at`` (None: never) should be posted now."""
        return last_sent_at is None or now >= self.next_resend(last_sent_at)

    def schedule(self, first_sent_at: datetime, until: datetime) -> list[datetime]:
        """Every post of an incident open from ``first_sent_at`` to ``until`` (the resolve post not included)."""
        times, at = [], first_sent_at
        while at < until:
            times.append(at)
            at = self.next_resend(at)
        return times


def alert_labels(incident: Incident, sender: str) -> dict[str, str]:
    """The label set (the alert's identity); every value non-empty (Alertmanager drops empty labels)."""
    return {
        "alertname": ALERTNAME,
        "tenant_id": incident.tenant_id,
        "service_id": anchor_service(incident),
        "severity": incident.severity.label,
        **engine_labels(incident.incident_id, sender),
    }


def _annotations(incident: Incident, change: StateChange | None) -> dict[str, str]:
    notes = {
        "summary": summary(incident),
        "description": headline(change) if change is not None else "",
        "blast_radius": ", ".join(incident.blast_radius),
        "suggested_fix": incident.suggested_fix or "",
        "members": str(len(incident.members)),
        "status": incident.status.value,
    }
    return {key: value[:MAX_ANNOTATION_CHARS] for key, value in notes.items() if value}


def postable_alerts(incident: Incident, *, now: datetime, timing: ResendTiming, sender: str,
                    change: StateChange | None = None, previous_labels: Mapping[str, str] | None = None,
                    public_url: str | None = None) -> list[dict]:
    """The ``postableAlerts`` body for ``incident`` as of ``now``.

    ``change`` is the state change being told (None for a plain re-post); ``previous_labels``
    the label set last posted for this incident to this Alertmanager (None if none): when it
    differs from the current one, a post resolving it comes too."""
    labels = alert_labels(incident, sender)
    ends = incident.resolved_at if incident.resolved_at is not None else timing.valid_until(now)
    alert: dict = {"labels": labels, "annotations": _annotations(incident, change),
                   "startsAt": rfc3339(incident.started_at), "endsAt": rfc3339(max(ends, incident.started_at))}
    url = incident_url(public_url, incident)
    if url:
        alert["generatorURL"] = url
    alerts = [alert]
    if previous_labels is not None and dict(previous_labels) != labels:
        stale = {"labels": dict(previous_labels), "annotations": {"summary": f"superseded: {summary(incident)}"},
                 "startsAt": alert["startsAt"], "endsAt": rfc3339(max(now, incident.started_at))}
        if url:
            stale["generatorURL"] = url
        alerts.insert(0, stale)
    return alerts
