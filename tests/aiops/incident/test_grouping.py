"""Grouping signals into incidents: joins, merges, resolution, RCA decisions, caps, replay (no Ray, no storage)."""

from __future__ import annotations

import doctest
import random
from datetime import UTC, datetime, timedelta

import pytest

from aiops import clock as clock_module
from aiops.clock import ManualClock
from aiops.incident import graph as graph_module
from aiops.incident import grouping as grouping_module
from aiops.incident import model as model_module
from aiops.incident.graph import ServiceGraph
from aiops.incident.grouping import Action, IncidentConflict, IncidentGrouper, IncidentNotFound, RcaReason
from aiops.incident.loop_guard import engine_labels
from aiops.incident.model import (
    ChangeKind,
    EventKind,
    IncidentStatus,
    Severity,
    Signal,
    SignalKind,
    incident_id_for,
)
from aiops.incident.settings import IncidentGroupingSettings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TENANT = "acme"
# web -> api -> cart -> db -> disk; web -> auth; and, apart, batch -> queue -> store.
SHOP = ServiceGraph({"web": ["api", "auth"], "api": ["cart"], "cart": ["db", "cache"], "db": ["disk"],
                     "batch": ["queue"], "queue": ["store"]})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sig(signal_id: str, service: str, start: float, end: float | None = None, *, kind=SignalKind.WATCHDOG_EPISODE,
        severity=Severity.WARNING, root_cause: str | None = None, labels=None, sent_by_engine=False,
        tenant=TENANT) -> Signal:
    return Signal(tenant, signal_id, kind, service, at(start), at(end) if end is not None else None, severity, 0.99,
                  root_cause, labels or {}, None, sent_by_engine)


def make(settings: IncidentGroupingSettings | None = None, graph: ServiceGraph = SHOP,
         start: datetime = T0) -> tuple[IncidentGrouper, ManualClock]:
    clock = ManualClock(start)
    return IncidentGrouper(TENANT, settings or IncidentGroupingSettings(), clock, graph), clock


def feed(grouper: IncidentGrouper, clock: ManualClock, signals: list[Signal]):
    """Observe each signal with the clock at its start (as a live intake would)."""
    outcomes = []
    for signal in signals:
        clock.set(max(clock.now(), signal.ended_at or signal.started_at))
        outcomes.append(grouper.observe(signal))
    return outcomes


@pytest.mark.parametrize("module", [grouping_module, model_module, graph_module, clock_module])
def test_doctests(module) -> None:
    assert doctest.testmod(module).failed == 0


def test_a_cascading_fault_is_one_incident() -> None:
    grouper, clock = make()
    cascade = [sig("db-lat", "db", 0), sig("cart-lat", "cart", 60), sig("api-lat", "api", 120),
               sig("web-lat", "web", 180),
               sig("am-web", "web", 300, kind=SignalKind.ALERTMANAGER_ALERT, severity=Severity.CRITICAL,
                   labels={"alertname": "HighLatency"})]
    outcomes = feed(grouper, clock, cascade)

    assert [o.action for o in outcomes] == [Action.OPENED] + [Action.JOINED] * 4
    [incident] = grouper.incidents()
    assert {o.incident_id for o in outcomes} == {incident.incident_id}
    assert incident.incident_id == incident_id_for(TENANT, "db-lat")
    assert [m.signal_id for m in incident.members] == ["db-lat", "cart-lat", "api-lat", "web-lat", "am-web"]
    assert incident.severity is Severity.CRITICAL and incident.status is IncidentStatus.OPEN
    changes = [c.kind for o in outcomes for c in o.changes]
    assert changes == [ChangeKind.OPENED, ChangeKind.ESCALATED]  # five signals, two state changes
    assert outcomes[0].rca is not None and outcomes[0].rca.reason is RcaReason.OPENED
    assert outcomes[0].rca.anchor_signal_id == "db-lat"
    assert all(o.rca is None for o in outcomes[1:])  # the analysis asked for at opening still stands
    kinds = [e.kind for e in incident.timeline]
    assert kinds == [EventKind.OPENED] + [EventKind.MEMBER_JOINED] * 4 + [EventKind.ESCALATED]
    assert [e.seq for e in incident.timeline] == list(range(6)) and incident.revision == 5


def test_two_unrelated_faults_at_the_same_time_are_two_incidents() -> None:
    grouper, clock = make()
    outcomes = feed(grouper, clock, [sig("db", "db", 0), sig("store", "store", 10), sig("cart", "cart", 40),
                                     sig("queue", "queue", 50), sig("batch", "batch", 90), sig("api", "api", 95)])
    incidents = grouper.incidents()
    assert len(incidents) == 2
    assert {i.services for i in incidents} == {("api", "cart", "db"), ("batch", "queue", "store")}
    assert [o.action for o in outcomes].count(Action.OPENED) == 2


def test_time_slack_decides_whether_a_late_signal_joins() -> None:
    settings = IncidentGroupingSettings(slack_seconds=300, quiet_seconds=3600)
    grouper, clock = make(settings)
    feed(grouper, clock, [sig("db", "db", 0, 600)])
    assert grouper.observe(sig("cart-near", "cart", 600 + 299)).action is Action.JOINED
    grouper2, clock2 = make(settings)
    feed(grouper2, clock2, [sig("db", "db", 0, 600)])
    assert grouper2.observe(sig("cart-far", "cart", 600 + 301)).action is Action.OPENED


def test_hops_bound_the_graph_walk() -> None:
    near, clock = make(IncidentGroupingSettings(max_hops=2))
    feed(near, clock, [sig("db", "db", 0), sig("api", "api", 30)])  # db <- cart <- api: two hops
    assert len(near.incidents()) == 1
    far, clock = make(IncidentGroupingSettings(max_hops=1))
    feed(far, clock, [sig("db", "db", 0), sig("api", "api", 30)])
    assert len(far.incidents()) == 2


def test_a_signal_sharing_the_incidents_root_cause_joins_without_an_edge() -> None:
    grouper, clock = make()
    opened = feed(grouper, clock, [sig("db", "db", 0)])[0]
    grouper.record_analysis(opened.incident_id, "db", ["cart"])
    far_alert = sig("batch-alert", "batch", 30, root_cause="db", kind=SignalKind.ALERTMANAGER_ALERT)
    assert grouper.observe(far_alert).action is Action.JOINED
    on_root = sig("store", "store", 40)  # no path to db: a new incident
    assert grouper.observe(on_root).action is Action.OPENED


def test_a_bridging_signal_merges_into_the_oldest_incident() -> None:
    # web calls api and auth: those two are two hops apart, so with max_hops=1 they start apart.
    grouper, clock = make()
    first, second = feed(grouper, clock, [sig("api", "api", 0), sig("auth", "auth", 20, severity=Severity.ERROR)])
    assert first.action is second.action is Action.OPENED
    bridge = feed(grouper, clock, [sig("web", "web", 60)])[0]

    assert bridge.action is Action.MERGED and bridge.incident_id == first.incident_id
    survivor = grouper.incident(first.incident_id)
    absorbed = grouper.incident(second.incident_id)
    assert [m.signal_id for m in survivor.members] == ["api", "auth", "web"]
    assert absorbed.status is IncidentStatus.RESOLVED and absorbed.merged_into == first.incident_id
    assert absorbed.timeline[-1].kind is EventKind.MERGED_INTO
    assert survivor.severity is Severity.ERROR  # the strongest member came with the merge
    assert [(c.kind, c.incident.incident_id) for c in bridge.changes] == [
        (ChangeKind.RESOLVED, second.incident_id), (ChangeKind.ESCALATED, first.incident_id)]
    assert bridge.rca is not None and bridge.rca.reason is RcaReason.MERGED
    # A later update of a member that moved follows it to the survivor.
    assert grouper.observe(sig("auth", "auth", 20, 300)).incident_id == first.incident_id


def test_without_merging_the_bridge_joins_the_oldest_only() -> None:
    grouper, clock = make(IncidentGroupingSettings(merge=False))
    first, second = feed(grouper, clock, [sig("api", "api", 0), sig("auth", "auth", 20)])
    bridge = feed(grouper, clock, [sig("web", "web", 60)])[0]
    assert bridge.action is Action.JOINED and bridge.incident_id == first.incident_id
    assert grouper.incident(second.incident_id).status is IncidentStatus.OPEN


def test_a_merge_that_would_pass_the_member_cap_does_not_happen() -> None:
    grouper, clock = make(IncidentGroupingSettings(max_members=3))
    first, second = feed(grouper, clock, [sig("api", "api", 0), sig("auth", "auth", 20)])
    feed(grouper, clock, [sig("cart", "cart", 25), sig("auth2", "auth", 26)])
    bridge = feed(grouper, clock, [sig("web", "web", 60)])[0]
    assert bridge.action is Action.JOINED and bridge.incident_id == first.incident_id
    assert grouper.incident(second.incident_id).is_open


def test_quiet_incidents_resolve_themselves_and_never_reopen() -> None:
    grouper, clock = make(IncidentGroupingSettings(quiet_seconds=600))
    opened, _ = feed(grouper, clock, [sig("db", "db", 0), sig("cart", "cart", 30)])
    feed(grouper, clock, [sig("db", "db", 0, 900)])  # db recovered; cart still slow
    clock.set(at(3000))
    assert grouper.tick() == []  # a member is still going on
    feed(grouper, clock, [sig("cart", "cart", 30, 3100)])
    clock.set(at(3100 + 599))
    assert grouper.tick() == []  # not quiet long enough yet
    clock.set(at(3100 + 600))
    [resolved] = grouper.tick()

    assert resolved.action is Action.RESOLVED and resolved.incident_id == opened.incident_id
    [change] = resolved.changes
    assert change.kind is ChangeKind.RESOLVED and change.event.kind is EventKind.AUTO_RESOLVED
    incident = grouper.incident(opened.incident_id)
    assert incident.status is IncidentStatus.RESOLVED and incident.resolved_at == at(3700)
    # A late update of a member is ignored; a new fitting signal opens a new incident.
    assert grouper.observe(sig("cart", "cart", 30, 3200)).action is Action.IGNORED
    again = grouper.observe(sig("db-2", "db", 3800))
    assert again.action is Action.OPENED and again.incident_id != opened.incident_id


def test_acknowledge_and_resolve_by_hand() -> None:
    grouper, clock = make()
    opened = feed(grouper, clock, [sig("db", "db", 0)])[0]
    ack = grouper.acknowledge(opened.incident_id, "alice")
    assert ack.action is Action.ACKNOWLEDGED and [c.kind for c in ack.changes] == [ChangeKind.ACKNOWLEDGED]
    assert grouper.acknowledge(opened.incident_id, "bob").changes == ()  # idempotent
    # Acknowledged incidents still take members.
    assert grouper.observe(sig("cart", "cart", 20)).incident_id == opened.incident_id
    done = grouper.resolve(opened.incident_id, "alice")
    assert [c.kind for c in done.changes] == [ChangeKind.RESOLVED]
    incident = grouper.incident(opened.incident_id)
    assert (incident.status, incident.resolved_by, incident.acknowledged_by) == (IncidentStatus.RESOLVED, "alice",
                                                                                 "alice")
    assert grouper.resolve(opened.incident_id, "bob").changes == ()
    with pytest.raises(IncidentConflict):
        grouper.acknowledge(opened.incident_id, "bob")
    with pytest.raises(IncidentNotFound):
        grouper.resolve("inc-0000000000000000", "bob")


def test_rca_results_are_events_and_changes() -> None:
    grouper, clock = make()
    opened = feed(grouper, clock, [sig("cart", "cart", 0)])[0]
    known = grouper.record_analysis(opened.incident_id, "cart", ["api", "web"], suggested_fix="restart cart")
    assert [c.kind for c in known.changes] == [ChangeKind.ROOT_CAUSE_KNOWN]
    assert grouper.record_analysis(opened.incident_id, "cart", ["api"]).changes == ()  # same root: quiet
    changed = grouper.record_analysis(opened.incident_id, "db", ["cart", "api"])
    [change] = changed.changes
    assert change.kind is ChangeKind.ROOT_CAUSE_CHANGED
    assert (change.event.root_cause, change.event.previous_root_cause) == ("db", "cart")
    incident = grouper.incident(opened.incident_id)
    assert (incident.root_cause, incident.blast_radius, incident.suggested_fix) == ("db", ("cart", "api"),
                                                                                    "restart cart")
    assert grouper.record_analysis(opened.incident_id, None).action is Action.IGNORED


def test_a_new_member_upstream_of_the_root_asks_for_a_rerun_once_allowed() -> None:
    grouper, clock = make(IncidentGroupingSettings(rca_rerun_min_seconds=60))
    opened = feed(grouper, clock, [sig("cart", "cart", 0)])[0]
    grouper.record_analysis(opened.incident_id, "cart", ["api"])
    clock.set(at(30))
    caller = grouper.observe(sig("api", "api", 30))
    assert caller.rca is None  # in the blast radius: expected
    clock.set(at(40))
    deeper = grouper.observe(sig("db", "db", 40))  # cart calls db: the root may be a symptom of db
    assert deeper.rca is None  # asked at 0, only 40 s ago: deferred
    clock.set(at(59))
    assert grouper.tick() == []
    clock.set(at(60))
    [due] = grouper.tick()
    assert due.action is Action.RCA_DUE and due.rca.reason is RcaReason.UPSTREAM_MEMBER
    assert due.rca.services == ("api", "cart", "db") and due.rca.anchor_signal_id == "cart"
    assert grouper.tick() == []  # handed out once


def test_members_the_analysis_does_not_explain_ask_for_a_rerun() -> None:
    grouper, clock = make(IncidentGroupingSettings(rca_rerun_min_seconds=0))
    opened = feed(grouper, clock, [sig("db", "db", 0), sig("cart", "cart", 10)])[0]
    grouper.record_analysis(opened.incident_id, "db", [])
    assert grouper.observe(sig("api", "api", 20)).rca is None  # calls db through cart: a victim
    clock.set(at(30))
    cache = grouper.observe(sig("cache", "cache", 30))  # next to cart, unrelated to db's callers
    assert cache.rca is not None and cache.rca.reason is RcaReason.UNEXPLAINED_MEMBER
    disk = grouper.observe(sig("disk", "disk", 40))
    assert disk.rca is not None and disk.rca.reason is RcaReason.UPSTREAM_MEMBER


def test_a_rerun_analyses_the_member_and_is_adopted_when_it_explains_the_root() -> None:
    grouper, clock = make(IncidentGroupingSettings(rca_rerun_min_seconds=0))
    opened = feed(grouper, clock, [sig("cart", "cart", 0)])[0]
    assert opened.rca.analysed_signal_id == "cart" and not opened.rca.rerun
    grouper.record_analysis(opened.incident_id, "cart", ["api"])
    clock.set(at(30))
    deeper = grouper.observe(sig("db", "db", 30))  # cart calls db: the root may be a symptom of db
    assert deeper.rca.rerun and deeper.rca.analysed_signal_id == "db" and deeper.rca.anchor_signal_id == "cart"
    # db's own analysis: db is the root, cart and api the blast radius. It explains cart: adopted.
    clock.set(at(45))
    [change] = grouper.record_rerun(opened.incident_id, "db", ["cart", "api"], "restart db").changes
    assert change.kind is ChangeKind.ROOT_CAUSE_CHANGED
    assert (change.event.root_cause, change.event.previous_root_cause, change.event.at) == ("db", "cart", at(45))
    incident = grouper.incident(opened.incident_id)
    assert (incident.root_cause, incident.blast_radius) == ("db", ("cart", "api"))
    assert [e.kind for e in incident.timeline][-1] is EventKind.ROOT_CAUSE_CHANGED
    # A re-run naming a root that neither has db in its blast radius nor is one db depends on: db stands.
    kept = grouper.record_rerun(opened.incident_id, "cache", ["web"])
    assert kept.action is Action.IGNORED and kept.changes == () and "does not explain db" in kept.note
    assert grouper.incident(opened.incident_id).root_cause == "db"


def test_a_deferred_rerun_analyses_the_member_that_asked_for_it() -> None:
    grouper, clock = make(IncidentGroupingSettings(rca_rerun_min_seconds=60))
    opened = feed(grouper, clock, [sig("cart", "cart", 0)])[0]
    grouper.record_analysis(opened.incident_id, "cart", ["api"])
    clock.set(at(10))
    assert grouper.observe(sig("db", "db", 10)).rca is None  # deferred
    clock.set(at(60))
    [due] = grouper.tick()
    assert due.rca.analysed_signal_id == "db" and due.rca.rerun


def test_an_analysis_naming_another_incidents_root_merges_them_into_the_oldest() -> None:
    grouper, clock = make()
    # db's episode, then an alert on web: two hops apart (web -> api -> cart -> db is three), so two incidents.
    first = feed(grouper, clock, [sig("db", "db", 0)])[0]
    clock.set(at(60))
    second = grouper.observe(sig("web", "web", 60, kind=SignalKind.ALERTMANAGER_ALERT, severity=Severity.CRITICAL))
    far = feed(grouper, clock, [sig("queue", "queue", 70)])[0]  # unrelated, at the same time
    assert len({first.incident_id, second.incident_id, far.incident_id}) == 3
    # The alert's analysis names db: the problem the first incident has a member on. One incident, the oldest.
    clock.set(at(90))
    outcome = grouper.record_analysis(second.incident_id, "db", ["cart", "api", "web"], "restart db")
    assert outcome.action is Action.ANALYSED and outcome.incident_id == first.incident_id
    assert [c.kind for c in outcome.changes] == [ChangeKind.RESOLVED, ChangeKind.ESCALATED,
                                                 ChangeKind.ROOT_CAUSE_KNOWN]
    merged = grouper.incident(first.incident_id)
    assert {m.signal_id for m in merged.members} == {"db", "web"} and merged.root_cause == "db"
    assert merged.severity is Severity.CRITICAL and merged.blast_radius == ("cart", "api", "web")
    assert grouper.incident(second.incident_id).merged_into == first.incident_id
    assert grouper.incident(far.incident_id).status is IncidentStatus.OPEN  # not its root, not merged
    # The first incident's own analysis comes later and agrees: nothing more happens.
    assert grouper.record_analysis(first.incident_id, "db", ["cart"]).changes == ()


def test_without_merging_an_analysis_keeps_incidents_apart() -> None:
    grouper, clock = make(IncidentGroupingSettings(merge=False))
    first = feed(grouper, clock, [sig("db", "db", 0)])[0]
    second = grouper.observe(sig("web", "web", 10))
    grouper.record_analysis(second.incident_id, "db", ["web"])
    assert grouper.incident(second.incident_id).root_cause == "db"
    assert grouper.incident(first.incident_id).root_cause is None and len(grouper.incidents(open_only=True)) == 2


def test_a_member_getting_worse_escalates_the_incident() -> None:
    grouper, clock = make()
    opened = feed(grouper, clock, [sig("db", "db", 0)])[0]
    again = grouper.observe(sig("db", "db", 0, severity=Severity.CRITICAL))
    assert again.action is Action.UPDATED and [c.kind for c in again.changes] == [ChangeKind.ESCALATED]
    calmer = grouper.observe(sig("db", "db", 0, 100, severity=Severity.INFO))
    assert calmer.changes == () and grouper.incident(opened.incident_id).severity is Severity.CRITICAL


def test_the_engines_own_alert_joins_its_incident_and_never_opens_one() -> None:
    grouper, clock = make()
    opened = feed(grouper, clock, [sig("db", "db", 0)])[0]
    echo = sig("am-echo", "db", 60, kind=SignalKind.ALERTMANAGER_ALERT, labels=engine_labels(opened.incident_id),
               sent_by_engine=True)
    outcome = grouper.observe(echo)
    assert outcome.action is Action.ECHO and outcome.incident_id == opened.incident_id and outcome.changes == ()
    incident = grouper.incident(opened.incident_id)
    assert incident.echoes == 1 and len(incident.members) == 1
    stray = sig("am-stray", "store", 60, kind=SignalKind.ALERTMANAGER_ALERT,
                labels=engine_labels("inc-00000000000000ff"), sent_by_engine=True)
    assert grouper.observe(stray).action is Action.IGNORED
    assert len(grouper.incidents()) == 1


def test_caps_on_open_incidents_and_members() -> None:
    grouper, clock = make(IncidentGroupingSettings(max_open_incidents=2, max_members=2))
    outcomes = feed(grouper, clock, [sig("db", "db", 0), sig("store", "store", 0), sig("auth", "auth", 0)])
    assert [o.action for o in outcomes] == [Action.OPENED, Action.OPENED, Action.DROPPED]
    assert "max_open_incidents" in outcomes[2].note
    feed(grouper, clock, [sig("cart", "cart", 5)])
    full = grouper.observe(sig("db-2", "db", 6))
    assert full.action is Action.DROPPED and "max_members" in full.note
    assert grouper.incident(outcomes[0].incident_id).dropped_members == 1


def test_the_timeline_and_the_resolved_incidents_kept_are_capped() -> None:
    settings = IncidentGroupingSettings(max_timeline_events=10, max_resolved_kept=1)
    grouper, clock = make(settings, graph=ServiceGraph({}))
    first = feed(grouper, clock, [sig(f"db-{i}", "db", i) for i in range(20)])[0]
    timeline = grouper.incident(first.incident_id).timeline
    assert len(timeline) == 10 and timeline[0].kind is EventKind.OPENED and timeline[-1].seq == 19
    grouper.resolve(first.incident_id, "ops")
    second = grouper.observe(sig("store", "store", 30))
    grouper.resolve(second.incident_id, "ops")  # two resolved incidents: only the latest is kept
    assert grouper.incident(second.incident_id).status is IncidentStatus.RESOLVED
    with pytest.raises(IncidentNotFound):
        grouper.incident(first.incident_id)
    # A member of the forgotten incident is a new signal to the grouper now.
    assert grouper.observe(sig("db-3", "db", 40)).action is Action.OPENED


def test_another_tenants_signal_is_refused() -> None:
    grouper, _ = make()
    with pytest.raises(ValueError, match="tenant"):
        grouper.observe(sig("x", "db", 0, tenant="globex"))


def random_signals(seed: int, count: int = 300) -> list[Signal]:
    """A stream of signals over the shop graph: starts, and later updates with ends."""
    rng = random.Random(seed)
    services = sorted(SHOP.services)
    signals, ongoing = [], []
    now = 0.0
    for i in range(count):
        now += rng.expovariate(1 / 40)
        if ongoing and rng.random() < 0.4:
            signal = ongoing.pop(rng.randrange(len(ongoing)))
            signals.append(sig(signal.signal_id, signal.service_id, (signal.started_at - T0).total_seconds(), now,
                               severity=signal.severity))
            continue
        signal = sig(f"s{i}", rng.choice(services), now, severity=Severity(rng.randint(1, 4)))
        ongoing.append(signal)
        signals.append(signal)
    return signals


def replay(signals: list[Signal], settings: IncidentGroupingSettings) -> tuple[list, list]:
    grouper, clock = make(settings)
    outcomes = []
    for signal in signals:
        clock.set(max(clock.now(), signal.ended_at or signal.started_at))
        outcomes.append(grouper.observe(signal))
        if signal.signal_id.endswith("7"):
            outcomes.append(grouper.record_analysis(outcomes[-1].incident_id, signal.service_id)
                            if outcomes[-1].incident_id and grouper.incident(outcomes[-1].incident_id).is_open
                            else None)
        outcomes.extend(grouper.tick())
    return outcomes, grouper.incidents()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_replaying_the_same_signals_gives_the_same_incidents(seed: int) -> None:
    settings = IncidentGroupingSettings(quiet_seconds=300, rca_rerun_min_seconds=30)
    signals = random_signals(seed)
    first_outcomes, first = replay(signals, settings)
    second_outcomes, second = replay(signals, settings)
    assert first == second and first_outcomes == second_outcomes
    assert len(first) > 3  # the stream really made several incidents, some resolved, some merged
    assert any(i.status is IncidentStatus.RESOLVED for i in first)


def test_restoring_snapshots_continues_as_if_uninterrupted() -> None:
    settings = IncidentGroupingSettings(quiet_seconds=300, rca_rerun_min_seconds=0)
    signals = random_signals(7)
    whole, clock = make(settings)
    for signal in signals:
        clock.set(max(clock.now(), signal.ended_at or signal.started_at))
        whole.observe(signal)
        whole.tick()
    half, clock2 = make(settings)
    cut = len(signals) // 2
    for signal in signals[:cut]:
        clock2.set(max(clock2.now(), signal.ended_at or signal.started_at))
        half.observe(signal)
        half.tick()
    restored = IncidentGrouper(TENANT, settings, clock2, SHOP)
    restored.restore(half.incidents())
    for signal in signals[cut:]:
        clock2.set(max(clock2.now(), signal.ended_at or signal.started_at))
        restored.observe(signal)
        restored.tick()
    assert restored.incidents() == whole.incidents()
