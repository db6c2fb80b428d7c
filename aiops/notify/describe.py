"""Words and documents about an incident, shared by every channel's payload."""

from __future__ import annotations

from datetime import UTC, datetime

from aiops.incident.model import ChangeKind, EventKind, Incident, StateChange


def rfc3339(when: datetime) -> str:
    """``2026-01-01T00:00:00Z`` (UTC, microseconds when there are any); RFC 3339 as Alertmanager parses it."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def incident_url(public_url: str | None, incident: Incident) -> str | None:
    return None if public_url is None else f"{public_url.rstrip('/')}/api/v1/incidents/{incident.incident_id}"


def anchor_service(incident: Incident) -> str:
    """The service an incident is about: its root cause when known, else its earliest member's service."""
    return incident.root_cause or incident.members[0].service_id


def summary(incident: Incident) -> str:
    """One line: how bad, where, how many signals.

    Only engine-made words and service names; callers escape for their medium."""
    services = incident.services
    root = f"root cause {incident.root_cause}" if incident.root_cause else "root cause not known yet"
    return (f"{incident.severity.label.capitalize()} incident on {anchor_service(incident)}: "
            f"{len(incident.members)} signal{'s' if len(incident.members) != 1 else ''} on {len(services)} "
            f"service{'s' if len(services) != 1 else ''}, {root}")


def memory_queries(incident: Incident, max_members: int = 8) -> list[str]:
    """What to look up in the incident memory for ``incident``: one text per member (the earliest first),
    its service with the alert's name and summary when it is an alert, and the root cause when known.

    >>> from aiops.incident.model import IncidentStatus, Severity, Signal, SignalKind
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> member = Signal("t", "s1", SignalKind.ALERTMANAGER_ALERT, "orders-db", at,
    ...                 labels={"alertname": "SlowQueries"})
    >>> memory_queries(Incident("t", "inc-1", IncidentStatus.OPEN, at, at, None, Severity.ERROR, (member,), ()))
    ['orders-db SlowQueries']
    """
    members = sorted(incident.members, key=lambda m: (m.started_at, m.signal_id))[:max_members]
    texts = [" ".join(part for part in (m.service_id, m.labels.get("alertname"), m.labels.get("summary")) if part)
             for m in members]
    if incident.root_cause:
        texts.append(f"{incident.root_cause} is the root cause")
    return texts


def headline(change: StateChange) -> str:
    """What just happened, in a few words."""
    event, incident = change.event, change.incident
    match change.kind:
        case ChangeKind.OPENED:
            return "Incident opened"
        case ChangeKind.ROOT_CAUSE_KNOWN:
            return f"Root cause found: {event.root_cause}"
        case ChangeKind.ROOT_CAUSE_CHANGED:
            return f"Root cause changed: {event.root_cause} (was {event.previous_root_cause})"
        case ChangeKind.ESCALATED:
            return f"Escalated to {incident.severity.label}"
        case ChangeKind.ACKNOWLEDGED:
            return f"Acknowledged by {event.by}"
        case ChangeKind.RESOLVED:
            if event.kind is EventKind.MERGED_INTO:
                return f"Resolved: merged into {event.other_incident_id}"
            if event.kind is EventKind.AUTO_RESOLVED:
                return "Resolved: every signal recovered"
            return f"Resolved by {event.by}"
    raise ValueError(f"no headline for {change.kind}")  # pragma: no cover - the match is exhaustive


def incident_document(incident: Incident, *, max_members: int = 50, public_url: str | None = None) -> dict:
    """The incident as JSON-ready data (times RFC 3339); at most ``max_members`` members, all counted."""
    members = [{"signal_id": m.signal_id, "kind": m.kind.value, "service_id": m.service_id,
                "started_at": rfc3339(m.started_at), "ended_at": rfc3339(m.ended_at) if m.ended_at else None,
                "severity": m.severity.label} for m in incident.members[:max_members]]
    return {
        "incident_id": incident.incident_id,
        "tenant_id": incident.tenant_id,
        "status": incident.status.value,
        "severity": incident.severity.label,
        "summary": summary(incident),
        "started_at": rfc3339(incident.started_at),
        "opened_at": rfc3339(incident.opened_at),
        "updated_at": rfc3339(incident.updated_at),
        "resolved_at": rfc3339(incident.resolved_at) if incident.resolved_at else None,
        "root_cause": incident.root_cause,
        "blast_radius": list(incident.blast_radius),
        "suggested_fix": incident.suggested_fix,
        "services": list(incident.services),
        "member_count": len(incident.members),
        "members": members,
        "acknowledged_by": incident.acknowledged_by,
        "resolved_by": incident.resolved_by,
        "merged_into": incident.merged_into,
        "url": incident_url(public_url, incident),
    }
