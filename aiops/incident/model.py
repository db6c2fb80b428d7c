"""Signals and incidents: the domain types grouping reads and writes.

A *signal* is one observation that something is wrong with a service of a tenant: a
watchdog anomaly episode, an Alertmanager alert, or (later) an episode derived from
traces. An *incident* is one real problem: the signals grouped together, the root cause
and blast radius of its analysis, and a timeline of what happened to it. Both are plain
frozen values; :class:`aiops.incident.grouping.IncidentGrouper` owns the state and hands
out snapshots.

Times are timezone-aware UTC ``datetime`` values; a signal's ``ended_at`` is ``None``
while it is still going on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Literal, cast

SeverityLabel = Literal["info", "warning", "error", "critical"]
"""A severity as the API and Alertmanager labels write it."""


class Severity(IntEnum):
    """How bad, ordered: a higher value is worse (Alertmanager's usual ``severity`` label values).

    >>> Severity.parse("CRITICAL") > Severity.parse("warning")
    True
    >>> Severity.parse("page").label
    'critical'
    """

    INFO = 1
    WARNING = 2
    ERROR = 3
    CRITICAL = 4

    @property
    def label(self) -> SeverityLabel:
        return cast(SeverityLabel, self.name.lower())

    @classmethod
    def parse(cls, text: str | None, default: Severity | None = None) -> Severity:
        """A severity from a label value (case-insensitive; common aliases); ``default`` (WARNING) otherwise."""
        name = (text or "").strip().lower()
        name = _SEVERITY_ALIASES.get(name, name)
        try:
            return cls[name.upper()]
        except KeyError:
            return cls.WARNING if default is None else default


_SEVERITY_ALIASES = {"page": "critical", "fatal": "critical", "high": "error", "major": "error",
                     "minor": "warning", "warn": "warning", "low": "info", "none": "info"}


class SignalKind(StrEnum):
    WATCHDOG_EPISODE = "watchdog_episode"
    ALERTMANAGER_ALERT = "alertmanager_alert"
    TRACE_EPISODE = "trace_episode"


@dataclass(frozen=True)
class Signal:
    """One observation that a service of a tenant is unwell.

    ``signal_id`` is unique within the tenant and stable across updates: the same episode
    or alert seen again (say, now ended) carries the same id (for alerts, the anomaly id
    the intake derives from fingerprint and ``startsAt``). ``root_cause`` is the root-cause
    service of the signal's own analysis, when one ran. ``sent_by_engine`` marks an alert
    the engine sent itself and got back through Alertmanager (the loop guard,
    :mod:`aiops.incident.loop_guard`); such a signal never opens an incident.

    Raises ``ValueError`` for naive times or an end before the start.
    """

    tenant_id: str
    signal_id: str
    kind: SignalKind
    service_id: str
    started_at: datetime
    ended_at: datetime | None = None
    severity: Severity = Severity.WARNING
    score: float = 0.0
    root_cause: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    fingerprint: str | None = None  # alerts: Alertmanager's fingerprint of the label set
    sent_by_engine: bool = False

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None or (self.ended_at is not None and self.ended_at.tzinfo is None):
            raise ValueError(f"signal {self.signal_id}: times must be timezone-aware")
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError(f"signal {self.signal_id}: ended_at {self.ended_at} is before started_at "
                             f"{self.started_at}")

    @property
    def ongoing(self) -> bool:
        return self.ended_at is None


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EventKind(StrEnum):
    """What can happen to an incident; each is one :class:`TimelineEvent`."""

    OPENED = "opened"
    MEMBER_JOINED = "member_joined"
    MERGED = "merged"  # another incident's members moved into this one (other_incident_id)
    MERGED_INTO = "merged_into"  # this incident's members moved into another (other_incident_id); it is resolved
    ROOT_CAUSE_KNOWN = "root_cause_known"
    ROOT_CAUSE_CHANGED = "root_cause_changed"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"  # by hand (by)
    AUTO_RESOLVED = "auto_resolved"  # every member recovered, then a quiet period passed


@dataclass(frozen=True)
class TimelineEvent:
    """One entry of an incident's timeline; ``seq`` counts the incident's events from 0 and never repeats."""

    seq: int
    at: datetime
    kind: EventKind
    signal_id: str | None = None
    service_id: str | None = None
    severity: Severity | None = None  # escalated: the new severity; opened: the first
    root_cause: str | None = None
    previous_root_cause: str | None = None
    other_incident_id: str | None = None
    by: str | None = None  # acknowledged, resolved: who did it


@dataclass(frozen=True)
class Incident:
    """A snapshot of one incident.

    ``severity`` is the strongest severity any member has had (it never goes down while
    the incident lives: the page it caused stands). ``members`` are the current versions
    of the member signals, ordered by start then id. ``merged_into`` names the incident
    that took this one's members (this one is then resolved). ``echoes`` counts the
    engine's own alerts about this incident that came back; ``dropped_members`` counts
    signals that would have joined past the member cap.
    """

    tenant_id: str
    incident_id: str
    status: IncidentStatus
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    severity: Severity
    members: tuple[Signal, ...]
    timeline: tuple[TimelineEvent, ...]
    root_cause: str | None = None
    blast_radius: tuple[str, ...] = ()
    suggested_fix: str | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    merged_into: str | None = None
    echoes: int = 0
    dropped_members: int = 0
    revision: int = 0  # the seq of the latest timeline event

    @property
    def started_at(self) -> datetime:
        """When the earliest member began."""
        return min(m.started_at for m in self.members)

    @property
    def services(self) -> tuple[str, ...]:
        """The members' services, sorted."""
        return tuple(sorted({m.service_id for m in self.members}))

    @property
    def is_open(self) -> bool:
        """Open or acknowledged: it still takes members."""
        return self.status is not IncidentStatus.RESOLVED


def incident_id_for(tenant_id: str, first_signal_id: str) -> str:
    """The incident's id, from the signal that opened it: replaying the same signals gives the same ids.

    >>> incident_id_for("acme", "anom-1") == incident_id_for("acme", "anom-1") != incident_id_for("globex", "anom-1")
    True
    """
    key = f"{tenant_id}\x00{first_signal_id}"
    return "inc-" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


class ChangeKind(StrEnum):
    """Incident state changes: what people are told about (one notification each, never one per signal)."""

    OPENED = "opened"
    ROOT_CAUSE_KNOWN = "root_cause_known"
    ROOT_CAUSE_CHANGED = "root_cause_changed"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"  # by hand, by a quiet period, or by a merge into another incident


CHANGE_OF_EVENT: dict[EventKind, ChangeKind] = {
    EventKind.OPENED: ChangeKind.OPENED,
    EventKind.ROOT_CAUSE_KNOWN: ChangeKind.ROOT_CAUSE_KNOWN,
    EventKind.ROOT_CAUSE_CHANGED: ChangeKind.ROOT_CAUSE_CHANGED,
    EventKind.ESCALATED: ChangeKind.ESCALATED,
    EventKind.ACKNOWLEDGED: ChangeKind.ACKNOWLEDGED,
    EventKind.RESOLVED: ChangeKind.RESOLVED,
    EventKind.AUTO_RESOLVED: ChangeKind.RESOLVED,
    EventKind.MERGED_INTO: ChangeKind.RESOLVED,
}


@dataclass(frozen=True)
class StateChange:
    """An incident changed state: ``incident`` is its snapshot just after, ``event`` what happened.

    ``(incident.incident_id, event.seq)`` identifies the change: replaying the same signals
    gives the same pairs, so notification idempotency keys derive from them."""

    kind: ChangeKind
    incident: Incident
    event: TimelineEvent
