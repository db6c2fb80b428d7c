"""The live side of grouping: signals read from storage, incidents and the outbox written back.

:class:`IncidentService` is what the ``incident-manager`` actor runs. Each pass
(:meth:`IncidentService.run_once`, every ``incident_grouping.poll_seconds``):

1. reads the anomalies written since its cursor (watchdog episodes and Alertmanager
   alerts of every tenant alike: both intakes already store them durably before they
   answer) and hands each, as a :class:`~aiops.incident.model.Signal`, to its tenant's
   :class:`~aiops.incident.grouping.IncidentGrouper`, in write order;
2. ends watchdog episodes not seen anomalous for ``episode_quiet_seconds`` (an episode has
   no end of its own), ticks every grouper (quiet incidents resolve, deferred re-runs);
3. asks one RCA per incident (on its anchor, the earliest member) through the durable RCA
   queue, and records each finished analysis on the incident (root cause, blast radius,
   the summary as suggested fix); a re-run (a new member changed the picture) reads that
   member's analysis and is adopted when it explains the current root cause
   (:meth:`~aiops.incident.grouping.IncidentGrouper.record_rerun`);
4. stores every incident that changed and, for each state change, one outbox row per
   channel that hears it (:func:`aiops.notify.decision.notifications_for`); then moves the
   cursor. A crash before the cursor moves repeats the pass: the signals are members by
   then (restored from the snapshots), so nothing is opened or notified twice. A pass that
   fails part way (storage unreachable) drops what it holds and restores from storage
   before the next, as a crash would, so nothing it had not stored is lost.

Grouping is deterministic for a given order of signals; the order is the anomalies' write
order (``updated_at``, then tenant and id).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import orjson

from aiops.clock import Clock, SystemClock
from aiops.incident.codec import change_to_dict
from aiops.incident.graph import ServiceGraph
from aiops.incident.grouping import GroupingOutcome, IncidentGrouper, IncidentNotFound
from aiops.incident.loop_guard import sent_by_engine
from aiops.incident.model import Incident, Severity, Signal, SignalKind, StateChange
from aiops.notify.channels import parse_channel
from aiops.notify.decision import notifications_for
from aiops.settings import Settings
from aiops.storage.outbox import PENDING, OutboxRow
from aiops.storage.records import AnomalyRecord

log = logging.getLogger(__name__)

CURSOR = "anomalies"
# Rows are read from a little before the cursor: a writer may stamp ``updated_at`` and commit
# after another writer's later stamp was already read. Re-read versions are skipped (``_seen``).
CURSOR_OVERLAP = timedelta(seconds=30)
GRAPH_REFRESH_SECONDS = 60.0


def signal_of(anomaly: AnomalyRecord, sender: str, ended_at: datetime | None = None) -> Signal:
    """The signal an anomaly is: an alert (severity from its label) or a watchdog episode (warning).

    ``ended_at``: a resolved alert's ``endsAt`` (else a resolved anomaly ended when last seen)."""
    alert = anomaly.source == "alertmanager"
    ended = None
    if anomaly.resolved:
        ended = max(ended_at or anomaly.last_seen_at, anomaly.detected_at)
    return Signal(anomaly.tenant_id, anomaly.anomaly_id,
                  SignalKind.ALERTMANAGER_ALERT if alert else SignalKind.WATCHDOG_EPISODE,
                  anomaly.service_id, anomaly.detected_at, ended,
                  Severity.parse(anomaly.labels.get("severity")) if alert else Severity.WARNING,
                  float(anomaly.anomaly_score), None, dict(anomaly.labels),
                  sent_by_engine=alert and sent_by_engine(anomaly.labels, sender))


@dataclass
class _Pass:
    """What one pass changed: incidents to store and state changes to notify, per tenant."""

    changed: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    changes: dict[str, list[StateChange]] = field(default_factory=lambda: defaultdict(list))

    def add(self, tenant_id: str, outcome: GroupingOutcome) -> None:
        if outcome.incident_id is not None:
            self.changed[tenant_id][outcome.incident_id] = None
        for change in outcome.changes:
            self.changed[tenant_id][change.incident.incident_id] = None
            self.changes[tenant_id].append(change)


class IncidentService:
    """Every tenant's grouping, fed from storage; thread-safe (one lock around the groupers)."""

    def __init__(self, settings: Settings, store, clock: Clock | None = None) -> None:
        self._settings = settings
        self._grouping = settings.incident_grouping
        self._store = store  # a StoreGateway's sync proxy (or a Store)
        self._clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._groupers: dict[str, IncidentGrouper] = {}
        self._graph_at: dict[str, float] = {}
        self._seen: dict[tuple[str, str], datetime] = {}  # (tenant, anomaly) -> updated_at handled
        self._last_seen: dict[tuple[str, str], datetime] = {}  # watchdog episodes: last anomalous point
        # (tenant, incident) -> (the anomaly whose analysis answers, whether it is a re-run)
        self._rca_pending: dict[tuple[str, str], tuple[str, bool]] = {}
        self._cursor: datetime | None = None
        # Rows already handled that the next read re-reads (written in the overlap before the
        # cursor): the read takes this many more than max_signals_per_poll, so a burst of more
        # than a page within CURSOR_OVERLAP cannot fill every page with seen rows and stall.
        self._overlap_rows = 0
        self.signals = 0
        self.passes = 0
        self.notifications = 0  # outbox rows enqueued, all passes together

    # -- start ------------------------------------------------------------------------
    def restore(self) -> int:
        """Rebuild the groupers from stored snapshots and resume at the stored cursor; returns incidents held."""
        with self._lock:
            held = self._store.incidents_to_restore(self._grouping.max_resolved_kept)
            by_tenant: dict[str, list[Incident]] = defaultdict(list)
            for incident in held:
                by_tenant[incident.tenant_id].append(incident)
            for tenant_id, incidents in by_tenant.items():
                self._grouper(tenant_id).restore(incidents)
                for incident in incidents:
                    if incident.is_open and incident.root_cause is None:
                        anchor = min(incident.members, key=lambda m: (m.started_at, m.signal_id))
                        self._rca_pending[(tenant_id, incident.incident_id)] = (anchor.signal_id, False)
            stored = self._store.incident_cursor(CURSOR)
            # A first start reads only what arrives from now on (minus the slack): old anomalies
            # would otherwise open (and notify) incidents about the past.
            self._cursor = stored or self._clock.now() - timedelta(seconds=self._grouping.slack_seconds)
            return len(held)

    def _grouper(self, tenant_id: str) -> IncidentGrouper:
        grouper = self._groupers.get(tenant_id)
        if grouper is None:
            grouper = self._groupers[tenant_id] = IncidentGrouper(tenant_id, self._grouping, self._clock)
        if time.monotonic() - self._graph_at.get(tenant_id, -1e9) >= GRAPH_REFRESH_SECONDS:
            self._graph_at[tenant_id] = time.monotonic()
            grouper.set_graph(self._load_graph(tenant_id))
        return grouper

    def _load_graph(self, tenant_id: str) -> ServiceGraph:
        """Declared topology (caller -> callee) plus the learned graph's edges (cause -> effect, read as callee)."""
        edges: list[tuple[str, str]] = []
        try:
            declared = self._store.load_topology(tenant_id)
            if declared is not None:
                edges += [tuple(call) for call in declared[0]]
            learned = self._store.load_graph(tenant_id)
            if learned is not None:
                edges += [(edge.target, edge.source) for edge in learned.edges]
        except Exception as error:  # no graph is a weaker grouping, not a failure
            log.warning("service graph of %s unavailable: %s", tenant_id, error)
        return ServiceGraph.from_edges(edges)

    def _forget_all(self) -> None:
        """Drop what is held so the next pass restores from storage, as after a restart.

        Called when a pass or a person's change fails part way (storage unreachable): the
        groupers already hold what storage may lack (a signal's membership, its opening and
        notifications), and re-reading the same signals into them would change nothing, so
        what was not stored would be lost."""
        self._groupers.clear()
        self._graph_at.clear()
        self._seen.clear()
        self._last_seen.clear()
        self._rca_pending.clear()
        self._cursor = None
        self._overlap_rows = 0

    # -- one pass ---------------------------------------------------------------------
    def run_once(self) -> int:
        """Read new signals, tick, collect analyses, store and enqueue; returns the signals handled.

        Raises what storage raises; the next call then starts from the stored state."""
        with self._lock:
            try:
                return self._pass()
            except Exception:
                self._forget_all()
                raise

    def _pass(self) -> int:
        if self._cursor is None:
            self.restore()
        with self._lock:
            if self._cursor is None:  # restore() sets it; only a failed pass or change forgets it (_forget_all)
                raise RuntimeError("the incident cursor was not restored")
            work = _Pass()
            anomalies = self._store.anomalies_changed_since(self._cursor - CURSOR_OVERLAP,
                                                            self._grouping.max_signals_per_poll + self._overlap_rows)
            fresh = [a for a in anomalies if self._seen.get((a.tenant_id, a.anomaly_id)) != a.updated_at]
            ends = self._alert_ends(fresh)
            handled = 0
            for anomaly in fresh:
                key = (anomaly.tenant_id, anomaly.anomaly_id)
                self._seen[key] = anomaly.updated_at
                signal = signal_of(anomaly, self._settings.notifications.sender, ends.get(key))
                if signal.kind is SignalKind.WATCHDOG_EPISODE and signal.ongoing:
                    self._last_seen[key] = anomaly.last_seen_at
                outcome = self._grouper(anomaly.tenant_id).observe(signal)
                self._follow(anomaly.tenant_id, outcome, work)
                handled += 1
            self._end_quiet_episodes(work)
            for tenant_id, grouper in self._groupers.items():
                for outcome in grouper.tick():
                    self._follow(tenant_id, outcome, work)
            self._collect_analyses(work)
            self._persist(work)
            if handled:
                newest = max(a.updated_at for a in anomalies)
                self._store.save_incident_cursor(CURSOR, newest, self._clock.now())
                self._forget_before(newest)
                self._cursor = newest
                self._overlap_rows = sum(1 for a in anomalies if a.updated_at >= newest - CURSOR_OVERLAP)
            self.signals += handled
            self.passes += 1
            return handled

    def _alert_ends(self, anomalies: list[AnomalyRecord]) -> dict[tuple[str, str], datetime]:
        resolved: dict[str, list[str]] = defaultdict(list)
        for a in anomalies:
            if a.source == "alertmanager" and a.resolved:
                resolved[a.tenant_id].append(a.anomaly_id)
        ends = {}
        for tenant_id, ids in resolved.items():
            ends.update({(tenant_id, i): at for i, at in self._store.alert_ends(tenant_id, ids).items()})
        return ends

    def _follow(self, tenant_id: str, outcome: GroupingOutcome, work: _Pass) -> None:
        work.add(tenant_id, outcome)
        if outcome.rca is not None:
            request = outcome.rca
            self._rca_pending[(tenant_id, request.incident_id)] = (request.analysed_signal_id, request.rerun)
            self._store.request_rcas(tenant_id, [request.analysed_signal_id], self._clock.now())

    def _end_quiet_episodes(self, work: _Pass) -> None:
        quiet = timedelta(seconds=self._grouping.episode_quiet_seconds)
        now = self._clock.now()
        for tenant_id, grouper in self._groupers.items():
            for incident in grouper.incidents(open_only=True):
                for member in incident.members:
                    if member.kind is not SignalKind.WATCHDOG_EPISODE or not member.ongoing:
                        continue
                    last = self._last_seen.get((tenant_id, member.signal_id), member.started_at)
                    if now - last >= quiet:
                        self._last_seen.pop((tenant_id, member.signal_id), None)
                        self._follow(tenant_id, grouper.observe(replace(member, ended_at=max(last, member.started_at))),
                                     work)

    def _collect_analyses(self, work: _Pass) -> None:
        for (tenant_id, incident_id), (analysed, rerun) in list(self._rca_pending.items()):
            record = self._store.get_rca(tenant_id, analysed)
            if record is None or record.status in ("pending", "running"):
                continue
            del self._rca_pending[(tenant_id, incident_id)]
            if record.status != "done" or not record.root_causes:
                continue
            grouper = self._groupers.get(tenant_id)
            if grouper is None:
                continue
            record_result = grouper.record_rerun if rerun else grouper.record_analysis
            try:
                outcome = record_result(
                    incident_id, record.root_causes[0]["service_id"],
                    [b["service_id"] for b in record.blast_radius], record.summary or None)
            except (IncidentNotFound, KeyError):
                continue
            self._follow(tenant_id, outcome, work)

    def _persist(self, work: _Pass) -> None:
        now = self._clock.now()  # the outbox rows' due time and every row's version, as the notifier's clock
        snapshots = []
        for tenant_id, ids in work.changed.items():
            grouper = self._groupers[tenant_id]
            for incident_id in ids:
                try:
                    snapshots.append(grouper.incident(incident_id))
                except IncidentNotFound:  # retired past max_resolved_kept in this very pass
                    continue
        rows = []
        for tenant_id, changes in work.changes.items():
            rows += self.outbox_rows(tenant_id, changes, now)
        # The outbox first: a crash between the two repeats the pass, and the rows are keyed.
        self._store.enqueue_notifications(rows, now)
        self.notifications += len(rows)
        self._store.save_incidents(snapshots, now)

    def outbox_rows(self, tenant_id: str, changes: list[StateChange], now: datetime) -> list[OutboxRow]:
        if not changes or not self._settings.notifications.enabled:
            return []
        channels = {}
        for row in self._store.list_channels(tenant_id):
            try:
                channels[row.channel_id] = parse_channel(orjson.loads(row.config))
            except ValueError as error:  # a channel stored by an older version the parser no longer takes
                log.warning("channel %s of %s unreadable: %s", row.channel_id, tenant_id, error)
        return [OutboxRow(tenant_id, n.idempotency_key, n.channel_id, n.incident_id, n.change.kind.value,
                          n.change.event.seq, orjson.dumps(change_to_dict(n.change)).decode(), PENDING, 0, None, now,
                          now)
                for n in notifications_for(changes, channels, self._settings.notifications)]

    def _forget_before(self, newest: datetime) -> None:
        if len(self._seen) > 100_000:
            self._seen = {k: v for k, v in self._seen.items() if v >= newest - CURSOR_OVERLAP}

    # -- people -----------------------------------------------------------------------
    def acknowledge(self, tenant_id: str, incident_id: str, by: str) -> Incident:
        return self._act(tenant_id, incident_id, lambda g: g.acknowledge(incident_id, by))

    def resolve(self, tenant_id: str, incident_id: str, by: str) -> Incident:
        return self._act(tenant_id, incident_id, lambda g: g.resolve(incident_id, by))

    def _act(self, tenant_id: str, incident_id: str, act) -> Incident:
        """Raises IncidentNotFound (also for another tenant's id) or IncidentConflict, or what storage
        raises (the change is then not kept: the next call starts from the stored state)."""
        with self._lock:
            if self._cursor is None:
                self.restore()
            grouper = self._groupers.get(tenant_id)
            if grouper is None:
                raise IncidentNotFound(f"incident {incident_id!r} not found")
            outcome = act(grouper)
            work = _Pass()
            try:
                self._follow(tenant_id, outcome, work)
                work.changed[tenant_id][incident_id] = None
                self._persist(work)
            except Exception:
                self._forget_all()
                raise
            return grouper.incident(incident_id)

    def status(self) -> dict:
        with self._lock:
            open_ = sum(len(g.incidents(open_only=True)) for g in self._groupers.values())
            return {"tenants": len(self._groupers), "open_incidents": open_, "signals": self.signals,
                    "passes": self.passes, "notifications": self.notifications,
                    "rca_pending": len(self._rca_pending),
                    "cursor": self._cursor.isoformat() if self._cursor else None}
