"""Grouping: one tenant's signals into incidents, incrementally and deterministically.

Rules (settings: :class:`aiops.incident.settings.IncidentGroupingSettings`):

- **Join.** A new signal joins an open (or acknowledged) incident of its tenant when it
  overlaps in time with a member (each began no later than ``slack_seconds`` after the
  other ended; an ongoing signal has not ended) AND either its service is within
  ``max_hops`` call edges (either direction) of that member's service, or it shares the
  incident's RCA root cause (its own analysis named the same root, or it is on the root
  service itself).
- **Merge.** A signal that fits several open incidents is evidence they are one problem:
  it joins the oldest (opened first) and the others are merged into it, oldest first, each
  resolved with a ``merged_into`` event, as long as the result stays within ``max_members``
  (``merge: false`` keeps them apart; the signal then joins the oldest only). So is an
  analysis naming a root cause that overlapping open incidents have as theirs or as a
  member's service (an alert on the front end whose RCA names the database that a watchdog
  episode's incident is about, more hops away than ``max_hops``): they merge into the oldest.
- **Resolve.** An incident resolves when every member has ended and both the latest end and
  the incident's latest update (a member joining or ending, an analysis, by the clock) are
  at least ``quiet_seconds`` old (checked by :meth:`IncidentGrouper.tick`), or by hand. A
  resolved incident never reopens: a later fitting signal opens a new one, and updates of
  its former members (say, an episode still running when someone resolved it) are ignored.
- **Severity** is the strongest any member has had; a rise is an ``escalated`` event.
- **RCA.** A new incident asks for its analysis (of its anchor, the earliest member). A new
  member asks for a re-run when it changes the picture: its service is one the current root
  cause depends on (calls, within ``explain_depth`` edges: the root may be a symptom of it),
  or neither the root, nor in the blast radius, nor a caller of the root within
  ``explain_depth``. Merges ask too. A re-run a member asked for analyses that member (the
  anchor's analysis is already known); its result is adopted (:meth:`IncidentGrouper.record_rerun`)
  when it explains the current root cause: the same root, the current root in its blast
  radius, or a root the current one depends on. Re-runs wait ``rca_rerun_min_seconds``
  after the last request; a deferred one comes out of :meth:`IncidentGrouper.tick`.
- **Echoes.** A signal ``sent_by_engine`` (the loop guard) is counted on the incident its
  labels name, or ignored when that incident is unknown; it never opens one.
- **Caps.** A signal that would open more than ``max_open_incidents`` is dropped (the
  outcome says so); one that would join a full incident is counted in ``dropped_members``.

Decisions read only the signals (their times, services, order) and the graph; the clock
stamps events and drives :meth:`~IncidentGrouper.tick`. Replaying the same signals in the
same order against the same clock readings gives the same incidents, ids and timelines.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeGuard

from aiops.clock import Clock
from aiops.errors import Conflict, NotFound
from aiops.incident.graph import ServiceGraph
from aiops.incident.loop_guard import INCIDENT_LABEL
from aiops.incident.model import (
    CHANGE_OF_EVENT,
    EventKind,
    Incident,
    IncidentStatus,
    Severity,
    Signal,
    StateChange,
    TimelineEvent,
    incident_id_for,
)
from aiops.incident.settings import IncidentGroupingSettings


def _all_ended(ends: list[datetime | None]) -> TypeGuard[list[datetime]]:
    return all(e is not None for e in ends)


class IncidentNotFound(NotFound):
    """No incident with that id in this tenant's grouping."""


class IncidentConflict(Conflict):
    """The incident's state does not allow the change (e.g. acknowledging a resolved incident)."""


class Action(StrEnum):
    """What one call did."""

    OPENED = "opened"  # the signal opened a new incident
    JOINED = "joined"  # the signal joined an open incident
    MERGED = "merged"  # the signal joined one and merged others into it
    UPDATED = "updated"  # a member signal seen again (ended, or its severity changed)
    ECHO = "echo"  # the engine's own alert came back; counted on its incident
    IGNORED = "ignored"  # nothing to do (see ``note``)
    DROPPED = "dropped"  # a cap was reached (see ``note``)
    ANALYSED = "analysed"  # an RCA result was recorded
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    RCA_DUE = "rca_due"  # a deferred RCA re-run is due (from tick)


class RcaReason(StrEnum):
    OPENED = "opened"
    UPSTREAM_MEMBER = "upstream_member"  # a new member on a service the root cause depends on
    UNEXPLAINED_MEMBER = "unexplained_member"  # a new member neither root, blast radius nor caller of the root
    MERGED = "merged"


@dataclass(frozen=True)
class RcaRequest:
    """Run (or re-run) the incident's analysis; ``anchor_signal_id`` is its earliest member.

    ``analysed_signal_id`` is the signal whose analysis answers the request: the anchor when
    the incident opened or merged, the member that changed the picture for a re-run."""

    incident_id: str
    reason: RcaReason
    anchor_signal_id: str
    services: tuple[str, ...]
    started_at: datetime
    analysed_signal_id: str

    @property
    def rerun(self) -> bool:
        return self.reason in (RcaReason.UPSTREAM_MEMBER, RcaReason.UNEXPLAINED_MEMBER)


@dataclass(frozen=True)
class GroupingOutcome:
    """What one call did: state changes to notify, an RCA to request, and why not, in ``note``."""

    action: Action
    incident_id: str | None = None
    changes: tuple[StateChange, ...] = ()
    rca: RcaRequest | None = None
    note: str = ""


@dataclass
class _Live:
    """One incident's mutable state inside the grouper."""

    incident_id: str
    order: int  # creation order in this tenant: "older" means a smaller order
    opened_at: datetime
    updated_at: datetime
    status: IncidentStatus = IncidentStatus.OPEN
    severity: Severity = Severity.INFO
    members: dict[str, Signal] = field(default_factory=dict)
    timeline: list[TimelineEvent] = field(default_factory=list)
    revision: int = -1
    resolved_at: datetime | None = None
    root_cause: str | None = None
    blast_radius: tuple[str, ...] = ()
    suggested_fix: str | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    merged_into: str | None = None
    echoes: int = 0
    dropped_members: int = 0
    rca_requested_at: datetime | None = None
    rca_deferred: RcaReason | None = None
    rca_deferred_signal: str | None = None  # the member whose deferred re-run it is

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED


class IncidentGrouper:
    """One tenant's incidents: feed it signals, RCA results and people's actions; it returns outcomes.

    Not thread-safe: its owner (an actor) calls it from one thread at a time.

    >>> from datetime import UTC, datetime
    >>> from aiops.clock import ManualClock
    >>> from aiops.incident.model import SignalKind
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> grouper = IncidentGrouper("acme", IncidentGroupingSettings(), ManualClock(t0),
    ...                           ServiceGraph({"web": ["db"]}))
    >>> first = grouper.observe(Signal("acme", "a1", SignalKind.WATCHDOG_EPISODE, "db", t0))
    >>> second = grouper.observe(Signal("acme", "a2", SignalKind.WATCHDOG_EPISODE, "web", t0))
    >>> first.action.value, second.action.value, first.incident_id == second.incident_id
    ('opened', 'joined', True)
    """

    def __init__(self, tenant_id: str, settings: IncidentGroupingSettings, clock: Clock,
                 graph: ServiceGraph | None = None) -> None:
        self.tenant_id = tenant_id
        self._settings = settings
        self._clock = clock
        self._graph = graph or ServiceGraph()
        self._slack = timedelta(seconds=settings.slack_seconds)
        self._open: dict[str, _Live] = {}  # in creation order
        self._resolved: OrderedDict[str, _Live] = OrderedDict()  # oldest resolution first
        self._member_of: dict[str, str] = {}  # signal id -> incident id (open and kept resolved)
        self._created = 0

    # ---- inputs -------------------------------------------------------------------

    def set_graph(self, graph: ServiceGraph) -> None:
        """Use a newer service graph from now on (incidents already formed stay as they are)."""
        self._graph = graph

    def observe(self, signal: Signal) -> GroupingOutcome:
        """Group one signal (new, or a member seen again). Raises ``ValueError`` for another tenant's signal."""
        if signal.tenant_id != self.tenant_id:
            raise ValueError(f"signal {signal.signal_id} is of tenant {signal.tenant_id!r}, not {self.tenant_id!r}")
        if signal.sent_by_engine:
            return self._echo(signal)
        known = self._member_of.get(signal.signal_id)
        if known is not None:
            return self._update(self._find(known), signal)
        fits = [live for live in self._open.values() if self._fits(signal, live)]
        if not fits:
            return self._open_incident(signal)
        return self._join(fits, signal)

    def record_analysis(self, incident_id: str, root_cause: str | None, blast_radius: Iterable[str] = (),
                        suggested_fix: str | None = None) -> GroupingOutcome:
        """Record an RCA result: a first root cause or a different one is an event (and, while open, a change).

        Open incidents overlapping this one in time whose root cause is the one named, or
        which have a member on that service, are the same problem: they are merged into the
        oldest (``merge``, ``max_members``), which takes the analysis when it has none of
        its own. ``root_cause`` None (the analysis found nothing) changes nothing. Raises
        :class:`IncidentNotFound`."""
        live = self._find(incident_id)
        if root_cause is None:
            return GroupingOutcome(Action.IGNORED, incident_id, note="the analysis named no root cause")
        now = self._clock.now()
        target, merges = self._merge_sharing_root(live, root_cause, now)
        holder = target if live.merged_into == target.incident_id else live
        if holder is not live and holder.root_cause is not None:
            return GroupingOutcome(Action.MERGED, holder.incident_id, tuple(merges),
                                   note=f"merged {live.incident_id}: it shares root cause {root_cause}")
        outcome = self._analysed(holder, root_cause, blast_radius, suggested_fix, now)
        return replace(outcome, changes=(*merges, *outcome.changes)) if merges else outcome

    def _merge_sharing_root(self, live: _Live, root_cause: str, now: datetime) -> tuple[_Live, list[StateChange]]:
        """Merge the open incidents that share ``live``'s root cause (see :meth:`record_analysis`) into the oldest."""
        if not live.is_open or not self._settings.merge:
            return live, []
        group = [other for other in self._open.values() if other is live or (
            (other.root_cause == root_cause or any(m.service_id == root_cause for m in other.members.values()))
            and any(self._overlaps(a, b) for a in other.members.values() for b in live.members.values()))]
        target, changes = group[0], []  # self._open keeps creation order: the oldest first
        for other in group[1:]:
            if len(target.members) + len(other.members) <= self._settings.max_members:
                changes.extend(self._merge(target, other, now))
        return target, changes

    def _analysed(self, live: _Live, root_cause: str, blast_radius: Iterable[str], suggested_fix: str | None,
                  now: datetime) -> GroupingOutcome:
        incident_id = live.incident_id
        previous = live.root_cause
        live.root_cause, live.blast_radius = root_cause, tuple(blast_radius)
        live.suggested_fix = suggested_fix if suggested_fix is not None else live.suggested_fix
        live.updated_at = now
        if previous == root_cause:
            return GroupingOutcome(Action.ANALYSED, incident_id, note="same root cause")
        kind = EventKind.ROOT_CAUSE_KNOWN if previous is None else EventKind.ROOT_CAUSE_CHANGED
        event = self._event(live, now, kind, service_id=root_cause, root_cause=root_cause,
                            previous_root_cause=previous)
        changes = (self._change(live, event),) if live.is_open else ()
        return GroupingOutcome(Action.ANALYSED, incident_id, changes)

    def record_rerun(self, incident_id: str, root_cause: str | None, blast_radius: Iterable[str] = (),
                     suggested_fix: str | None = None) -> GroupingOutcome:
        """Record a re-run's result (the analysis of the member that changed the picture).

        Adopted, as :meth:`record_analysis` does (a different root is a ``root_cause_changed``
        event), when it explains the current root cause: it names the same root, has the
        current root in its blast radius, or names a root the current one depends on (calls
        within ``explain_depth``); otherwise the current analysis stands (``IGNORED``, with a
        note). Raises :class:`IncidentNotFound`."""
        live = self._find(incident_id)
        current, blast = live.root_cause, tuple(blast_radius)
        explains = (current is None or root_cause == current or current in blast
                    or (root_cause is not None
                        and self._graph.depends_on(current, root_cause, self._settings.explain_depth)))
        if root_cause is not None and not explains:
            return GroupingOutcome(Action.IGNORED, incident_id,
                                   note=f"the re-run's root cause {root_cause} does not explain {current}")
        return self.record_analysis(incident_id, root_cause, blast, suggested_fix)

    def acknowledge(self, incident_id: str, by: str) -> GroupingOutcome:
        """Someone is on it. Idempotent; raises :class:`IncidentNotFound`, or :class:`IncidentConflict` if resolved."""
        live = self._find(incident_id)
        if not live.is_open:
            raise IncidentConflict(f"incident {incident_id} is resolved; it cannot be acknowledged")
        if live.status is IncidentStatus.ACKNOWLEDGED:
            return GroupingOutcome(Action.IGNORED, incident_id, note=f"already acknowledged by {live.acknowledged_by}")
        now = self._clock.now()
        live.status, live.acknowledged_by, live.updated_at = IncidentStatus.ACKNOWLEDGED, by, now
        event = self._event(live, now, EventKind.ACKNOWLEDGED, by=by)
        return GroupingOutcome(Action.ACKNOWLEDGED, incident_id, (self._change(live, event),))

    def resolve(self, incident_id: str, by: str) -> GroupingOutcome:
        """Resolve by hand; resolving a resolved incident does nothing. Raises :class:`IncidentNotFound`."""
        live = self._find(incident_id)
        if not live.is_open:
            return GroupingOutcome(Action.IGNORED, incident_id, note="already resolved")
        event = self._close(live, EventKind.RESOLVED, by=by)
        return GroupingOutcome(Action.RESOLVED, incident_id, (self._change(live, event),))

    def tick(self) -> list[GroupingOutcome]:
        """Resolve incidents that have been quiet long enough; hand out deferred RCA re-runs that are due."""
        now = self._clock.now()
        quiet = timedelta(seconds=self._settings.quiet_seconds)
        outcomes = []
        for live in list(self._open.values()):
            ends = [m.ended_at for m in live.members.values()]
            # Quiet by the signals' own times and by the engine's: signals backfilled long after they ended (a
            # replay, a late intake) must not open and resolve an incident in one breath.
            if ends and _all_ended(ends) and now >= max(*ends, live.updated_at) + quiet:
                event = self._close(live, EventKind.AUTO_RESOLVED)
                outcomes.append(GroupingOutcome(Action.RESOLVED, live.incident_id, (self._change(live, event),)))
            elif live.rca_deferred is not None and self._rerun_allowed(live, now):
                reason, signal_id = live.rca_deferred, live.rca_deferred_signal
                live.rca_deferred = live.rca_deferred_signal = None
                outcomes.append(GroupingOutcome(Action.RCA_DUE, live.incident_id,
                                                rca=self._request(live, reason, now, signal_id)))
        return outcomes

    # ---- reads and state ------------------------------------------------------------

    def incident(self, incident_id: str) -> Incident:
        """A snapshot; raises :class:`IncidentNotFound`."""
        return self._snapshot(self._find(incident_id))

    def incidents(self, *, open_only: bool = False) -> list[Incident]:
        """Snapshots in creation order (open ones), then resolved ones kept in memory unless ``open_only``."""
        lives = list(self._open.values()) + ([] if open_only else sorted(self._resolved.values(),
                                                                        key=lambda live: live.order))
        return [self._snapshot(live) for live in lives]

    def restore(self, incidents: Iterable[Incident]) -> None:
        """Rebuild from stored snapshots (after a restart), oldest first; replaces what is held."""
        self._open.clear()
        self._resolved.clear()
        self._member_of.clear()
        self._created = 0
        for incident in sorted(incidents, key=lambda i: (i.opened_at, i.incident_id)):
            if incident.tenant_id != self.tenant_id:
                raise ValueError(f"incident {incident.incident_id} is of tenant {incident.tenant_id!r}")
            live = _Live(incident.incident_id, self._created, incident.opened_at, incident.updated_at,
                         incident.status, incident.severity, {m.signal_id: m for m in incident.members},
                         list(incident.timeline), incident.revision, incident.resolved_at, incident.root_cause,
                         incident.blast_radius, incident.suggested_fix, incident.acknowledged_by,
                         incident.resolved_by, incident.merged_into, incident.echoes, incident.dropped_members)
            self._created += 1
            if live.is_open:
                self._open[live.incident_id] = live
            else:
                self._retire(live)
            for signal_id in live.members:
                self._member_of[signal_id] = live.incident_id

    # ---- the rules -----------------------------------------------------------------

    def _overlaps(self, a: Signal, b: Signal) -> bool:
        a_end_ok = a.ended_at is None or b.started_at <= a.ended_at + self._slack
        b_end_ok = b.ended_at is None or a.started_at <= b.ended_at + self._slack
        return a_end_ok and b_end_ok

    def _fits(self, signal: Signal, live: _Live) -> bool:
        near = self._graph.within(signal.service_id, self._settings.max_hops)
        shares_root = live.root_cause is not None and live.root_cause in (signal.root_cause, signal.service_id)
        return any(self._overlaps(signal, m) and (shares_root or m.service_id in near)
                   for m in live.members.values())

    def _open_incident(self, signal: Signal) -> GroupingOutcome:
        if len(self._open) >= self._settings.max_open_incidents:
            return GroupingOutcome(Action.DROPPED, note=f"{len(self._open)} open incidents, the most a tenant "
                                                        "may have (incident_grouping.max_open_incidents)")
        now = self._clock.now()
        incident_id = incident_id_for(self.tenant_id, signal.signal_id)
        live = _Live(incident_id, self._created, now, now, severity=signal.severity)
        self._created += 1
        self._open[incident_id] = live
        self._add_member(live, signal)
        event = self._event(live, now, EventKind.OPENED, signal_id=signal.signal_id, service_id=signal.service_id,
                            severity=signal.severity)
        return GroupingOutcome(Action.OPENED, incident_id, (self._change(live, event),),
                               self._request(live, RcaReason.OPENED, now))

    def _join(self, fits: list[_Live], signal: Signal) -> GroupingOutcome:
        now = self._clock.now()
        target, others = fits[0], fits[1:]  # self._open keeps creation order: fits[0] is the oldest
        changes: list[StateChange] = []
        merged = []
        if self._settings.merge:
            for other in others:
                if len(target.members) + len(other.members) <= self._settings.max_members:
                    changes.extend(self._merge(target, other, now))
                    merged.append(other.incident_id)
        if len(target.members) >= self._settings.max_members:
            target.dropped_members += 1
            target.updated_at = now
            return GroupingOutcome(Action.DROPPED, target.incident_id, tuple(changes),
                                   note=f"incident {target.incident_id} holds {len(target.members)} members, the most "
                                        "it may (incident_grouping.max_members)")
        self._add_member(target, signal)
        target.updated_at = now
        self._event(target, now, EventKind.MEMBER_JOINED, signal_id=signal.signal_id, service_id=signal.service_id,
                    severity=signal.severity)
        changes.extend(self._escalate(target, signal.severity, now, signal))
        reason = RcaReason.MERGED if merged else self._picture_changed(target, signal)
        rca = self._ask_rca(target, reason, now, signal.signal_id) if reason is not None else None
        action = Action.MERGED if merged else Action.JOINED
        note = f"merged {', '.join(merged)}" if merged else ""
        return GroupingOutcome(action, target.incident_id, tuple(changes), rca, note)

    def _update(self, live: _Live, signal: Signal) -> GroupingOutcome:
        if not live.is_open:
            return GroupingOutcome(Action.IGNORED, live.incident_id,
                                   note=f"signal {signal.signal_id} belongs to resolved incident {live.incident_id}")
        now = self._clock.now()
        live.members[signal.signal_id] = signal
        live.updated_at = now
        changes = self._escalate(live, signal.severity, now, signal)
        return GroupingOutcome(Action.UPDATED, live.incident_id, tuple(changes))

    def _echo(self, signal: Signal) -> GroupingOutcome:
        incident_id = signal.labels.get(INCIDENT_LABEL)
        live = (self._open.get(incident_id) or self._resolved.get(incident_id)) if incident_id else None
        if live is None:
            return GroupingOutcome(Action.IGNORED, incident_id,
                                   note=f"the engine's own alert names an incident this tenant does not hold "
                                        f"({incident_id!r}); it opens none")
        live.echoes += 1
        return GroupingOutcome(Action.ECHO, live.incident_id)

    def _merge(self, target: _Live, other: _Live, now: datetime) -> list[StateChange]:
        for signal_id, signal in other.members.items():
            target.members[signal_id] = signal
            self._member_of[signal_id] = target.incident_id
        target.echoes += other.echoes
        target.dropped_members += other.dropped_members
        self._event(target, now, EventKind.MERGED, other_incident_id=other.incident_id)
        other.merged_into = target.incident_id
        closed = self._close(other, EventKind.MERGED_INTO, other_incident_id=target.incident_id)
        changes = [self._change(other, closed)]
        changes.extend(self._escalate(target, other.severity, now, None))
        return changes

    def _escalate(self, live: _Live, severity: Severity, now: datetime, signal: Signal | None) -> list[StateChange]:
        if severity <= live.severity:
            return []
        live.severity = severity
        event = self._event(live, now, EventKind.ESCALATED, severity=severity,
                            signal_id=signal.signal_id if signal else None,
                            service_id=signal.service_id if signal else None)
        return [self._change(live, event)]

    def _picture_changed(self, live: _Live, signal: Signal) -> RcaReason | None:
        root, service, depth = live.root_cause, signal.service_id, self._settings.explain_depth
        if root is None:  # no answer yet: the analysis asked for at opening still stands
            return None if live.rca_requested_at is not None else RcaReason.OPENED
        if service == root or service in live.blast_radius:
            return None
        if self._graph.depends_on(root, service, depth):
            return RcaReason.UPSTREAM_MEMBER
        if self._graph.depends_on(service, root, depth):
            return None  # a caller of the root: one more victim, as expected
        return RcaReason.UNEXPLAINED_MEMBER

    def _rerun_allowed(self, live: _Live, now: datetime) -> bool:
        last = live.rca_requested_at
        return last is None or (now - last).total_seconds() >= self._settings.rca_rerun_min_seconds

    def _ask_rca(self, live: _Live, reason: RcaReason, now: datetime, signal_id: str) -> RcaRequest | None:
        if self._rerun_allowed(live, now):
            live.rca_deferred = live.rca_deferred_signal = None
            return self._request(live, reason, now, signal_id)
        if live.rca_deferred is None:  # the first reason (and its member) stands; one re-run covers all
            live.rca_deferred, live.rca_deferred_signal = reason, signal_id
        return None

    def _request(self, live: _Live, reason: RcaReason, now: datetime, signal_id: str | None = None) -> RcaRequest:
        live.rca_requested_at = now
        anchor = min(live.members.values(), key=lambda m: (m.started_at, m.signal_id))
        services = tuple(sorted({m.service_id for m in live.members.values()}))
        member = reason in (RcaReason.UPSTREAM_MEMBER, RcaReason.UNEXPLAINED_MEMBER) and signal_id in live.members
        analysed = signal_id if member and signal_id is not None else anchor.signal_id
        return RcaRequest(live.incident_id, reason, anchor.signal_id, services, anchor.started_at, analysed)

    # ---- bookkeeping ---------------------------------------------------------------

    def _add_member(self, live: _Live, signal: Signal) -> None:
        live.members[signal.signal_id] = signal
        self._member_of[signal.signal_id] = live.incident_id

    def _event(self, live: _Live, at: datetime, kind: EventKind, **fields) -> TimelineEvent:
        live.revision += 1
        event = TimelineEvent(live.revision, at, kind, **fields)
        if len(live.timeline) >= self._settings.max_timeline_events:
            del live.timeline[1]  # the oldest after "opened": the start and the latest events stay
        live.timeline.append(event)
        return event

    def _close(self, live: _Live, kind: EventKind, **fields) -> TimelineEvent:
        now = self._clock.now()
        live.status, live.resolved_at, live.updated_at = IncidentStatus.RESOLVED, now, now
        live.resolved_by = fields.get("by")
        live.rca_deferred = live.rca_deferred_signal = None
        event = self._event(live, now, kind, **fields)
        del self._open[live.incident_id]
        self._retire(live)
        return event

    def _retire(self, live: _Live) -> None:
        self._resolved[live.incident_id] = live
        while len(self._resolved) > self._settings.max_resolved_kept:
            _, gone = self._resolved.popitem(last=False)
            for signal_id in gone.members:
                if self._member_of.get(signal_id) == gone.incident_id:
                    del self._member_of[signal_id]

    def _find(self, incident_id: str) -> _Live:
        live = self._open.get(incident_id) or self._resolved.get(incident_id)
        if live is None:
            raise IncidentNotFound(f"no incident {incident_id} in tenant {self.tenant_id}")
        return live

    def _change(self, live: _Live, event: TimelineEvent) -> StateChange:
        return StateChange(CHANGE_OF_EVENT[event.kind], self._snapshot(live), event)

    def _snapshot(self, live: _Live) -> Incident:
        members = tuple(sorted(live.members.values(), key=lambda m: (m.started_at, m.signal_id)))
        return Incident(self.tenant_id, live.incident_id, live.status, live.opened_at, live.updated_at,
                        live.resolved_at, live.severity, members, tuple(live.timeline), live.root_cause,
                        live.blast_radius, live.suggested_fix, live.acknowledged_by, live.resolved_by,
                        live.merged_into, live.echoes, live.dropped_members, live.revision)


