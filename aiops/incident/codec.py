"""Incidents, signals and state changes to JSON-ready dicts and back (stored snapshots, outbox rows).

Times are RFC 3339 strings in UTC; enums their values. ``incident_from_dict(incident_to_dict(x)) == x``.

>>> from datetime import UTC, datetime
>>> from aiops.incident.model import SignalKind
>>> s = Signal("acme", "a1", SignalKind.WATCHDOG_EPISODE, "db", datetime(2026, 1, 1, tzinfo=UTC))
>>> signal_from_dict(signal_to_dict(s)) == s
True
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from aiops.incident.model import (
    ChangeKind,
    EventKind,
    Incident,
    IncidentStatus,
    Severity,
    Signal,
    SignalKind,
    StateChange,
    TimelineEvent,
)


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


@overload
def _p(value: str) -> datetime: ...
@overload
def _p(value: None) -> None: ...
def _p(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def signal_to_dict(signal: Signal) -> dict:
    return {"signal_id": signal.signal_id, "tenant_id": signal.tenant_id, "kind": signal.kind.value,
            "service_id": signal.service_id, "started_at": _t(signal.started_at), "ended_at": _t(signal.ended_at),
            "severity": signal.severity.label, "score": signal.score, "root_cause": signal.root_cause,
            "labels": dict(signal.labels), "fingerprint": signal.fingerprint, "sent_by_engine": signal.sent_by_engine}


def signal_from_dict(data: dict) -> Signal:
    return Signal(data["tenant_id"], data["signal_id"], SignalKind(data["kind"]), data["service_id"],
                  _p(data["started_at"]), _p(data["ended_at"]), Severity.parse(data["severity"]),
                  float(data["score"]), data["root_cause"], dict(data["labels"]), data["fingerprint"],
                  bool(data["sent_by_engine"]))


def event_to_dict(event: TimelineEvent) -> dict:
    return {"seq": event.seq, "at": _t(event.at), "kind": event.kind.value, "signal_id": event.signal_id,
            "service_id": event.service_id, "severity": event.severity.label if event.severity else None,
            "root_cause": event.root_cause, "previous_root_cause": event.previous_root_cause,
            "other_incident_id": event.other_incident_id, "by": event.by}


def event_from_dict(data: dict) -> TimelineEvent:
    return TimelineEvent(int(data["seq"]), _p(data["at"]), EventKind(data["kind"]), data["signal_id"],
                         data["service_id"], Severity.parse(data["severity"]) if data["severity"] else None,
                         data["root_cause"], data["previous_root_cause"], data["other_incident_id"], data["by"])


def incident_to_dict(incident: Incident) -> dict:
    """The whole snapshot: members and timeline included."""
    return {"incident_id": incident.incident_id, "tenant_id": incident.tenant_id, "status": incident.status.value,
            "opened_at": _t(incident.opened_at), "updated_at": _t(incident.updated_at),
            "resolved_at": _t(incident.resolved_at), "severity": incident.severity.label,
            "members": [signal_to_dict(m) for m in incident.members],
            "timeline": [event_to_dict(e) for e in incident.timeline],
            "root_cause": incident.root_cause, "blast_radius": list(incident.blast_radius),
            "suggested_fix": incident.suggested_fix, "acknowledged_by": incident.acknowledged_by,
            "resolved_by": incident.resolved_by, "merged_into": incident.merged_into, "echoes": incident.echoes,
            "dropped_members": incident.dropped_members, "revision": incident.revision}


def incident_from_dict(data: dict) -> Incident:
    return Incident(data["tenant_id"], data["incident_id"], IncidentStatus(data["status"]), _p(data["opened_at"]),
                    _p(data["updated_at"]), _p(data["resolved_at"]), Severity.parse(data["severity"]),
                    tuple(signal_from_dict(m) for m in data["members"]),
                    tuple(event_from_dict(e) for e in data["timeline"]), data["root_cause"],
                    tuple(data["blast_radius"]), data["suggested_fix"], data["acknowledged_by"], data["resolved_by"],
                    data["merged_into"], int(data["echoes"]), int(data["dropped_members"]), int(data["revision"]))


def change_to_dict(change: StateChange) -> dict:
    return {"kind": change.kind.value, "incident": incident_to_dict(change.incident),
            "event": event_to_dict(change.event)}


def change_from_dict(data: dict) -> StateChange:
    return StateChange(ChangeKind(data["kind"]), incident_from_dict(data["incident"]), event_from_dict(data["event"]))
