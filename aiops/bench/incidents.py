"""Incident grouping on a replay: how much noise it cuts and how clean its incidents are.

A simulated tenant of 50 services in five product areas (a gateway, three APIs, three
mid-tier and three data services each, plus a few calls across areas) suffers 20 faults.
A fault slows its service and, a little later each, that service's callers up to three
call edges away (its blast radius); every affected service opens an episode for the
fault's length, and more signals come on top (Alertmanager alerts, second metrics,
flapping episodes, trace-derived episodes) to 5-30 signals per fault. Some faults start
within minutes of another one, always in another product area and at least three call
edges from everything the other one touches; the others come after the previous faults
have been over for a while. Service names are shuffled: nothing can be read from them.

The signals (starts, and updates when they end) are fed in time order to an
:class:`~aiops.incident.grouping.IncidentGrouper` on a manual clock that follows them,
ticking every 30 s. Each RCA request is answered 60 s later by the engine's own analysis
(:mod:`aiops.bench.incident_metrics`: the replay's services get latency and error metrics
from a queueing picture of their call tree, and :func:`aiops.rca.analysis.analyse` ranks
them with the engine's defaults, seeing no data after the moment it runs), recorded as the
incident manager records it (a re-run through ``record_rerun``). Figures (:func:`score`):
signals in, incidents opened (merged ones included: each was notified) and left, noise
reduction ``1 - opened / signals`` (target >= 90 %), purity (the share of incidents whose
signals all come from one fault, target >= 95 %), faults split over several incidents, root
cause right per incident (the incident's root cause is the service of the fault most of its
signals came from), and notifications out per channel; the same without the analysis' focus
on the calls (``rca.focus_on_calls``), and with a declared topology missing calls, for
comparison.

Live (:func:`~aiops.bench.incidents_live.live_replay`): the same replay (seed 0) through a
scratch engine. Its call graph is declared (``PUT /api/v1/topology``), its simulated metrics
are ingested first (``POST /api/v1/ingest/metrics``; the tenant's watchdog is kept from
flagging them, so that the replay's signals are the only ones), a signed webhook channel
points at a receiver in this process, and every signal is posted to port 9093 as an
Alertmanager alert (firing at its start, resolved at its end, in time order, times shifted to
end now; the engine runs with ``incident_grouping.quiet_seconds`` at its maximum so that the
compressed replay does not resolve incidents the simulated hours would have kept open).
Figures: incidents the engine opened, its noise reduction and purity, root cause right per
incident as its RCA workers found them (the metrics being stored before the alerts, an
analysis sees up to ``rca.after_minutes`` after its start), and the signal-to-notification
latency (from the POST of the signal that opened an incident to the receiver holding its
``opened`` webhook), p50/p95.
"""

from __future__ import annotations

import hashlib
import heapq
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from aiops.bench.incident_metrics import ReplayMetrics, analyse_request, simulate_metrics
from aiops.bench.report import BenchResult
from aiops.clock import ManualClock
from aiops.incident.graph import ServiceGraph
from aiops.incident.grouping import Action, IncidentGrouper, RcaRequest
from aiops.incident.model import Incident, Severity, Signal, SignalKind, StateChange
from aiops.incident.settings import IncidentGroupingSettings
from aiops.notify.channels import parse_channel
from aiops.notify.decision import notifications_for
from aiops.notify.settings import NotificationSettings
from aiops.settings import RcaSettings
from models.registry import build

TENANT = "bench-incidents"
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
AREAS, PER_AREA = 5, 10
TICK_SECONDS = 30.0
RCA_SECONDS = 60.0
BLAST_DEPTH = 3
MISSING_CALLS = 0.2  # the share of calls left out of the declared topology in one variant


@dataclass(frozen=True)
class Fault:
    fault_id: int
    root: str
    started_at: datetime
    ended_at: datetime
    services: tuple[str, ...]  # the root first, then its affected callers
    overlapping: bool  # started while another fault was going on


@dataclass
class Replay:
    """A simulated tenant: its call graph, its faults, and every signal with the fault it belongs to."""

    calls: dict[str, list[str]]
    faults: list[Fault]
    signals: list[Signal]  # as first seen (ongoing), in start order
    fault_of: dict[str, int]  # signal id -> fault id

    @property
    def graph(self) -> ServiceGraph:
        return ServiceGraph(self.calls)


def tenant_calls(rng: np.random.Generator) -> dict[str, list[str]]:
    """Five areas of ten services (gateway -> 3 APIs -> 3 mid-tier -> 3 data), a few calls across areas."""
    names = [f"svc-{i:02d}" for i in rng.permutation(AREAS * PER_AREA)]
    calls: dict[str, list[str]] = {}
    for area in range(AREAS):
        s = names[area * PER_AREA:(area + 1) * PER_AREA]
        gateway, apis, mids, datas = s[0], s[1:4], s[4:7], s[7:10]
        calls[gateway] = list(apis)
        for api in apis:
            calls[api] = sorted(rng.choice(mids, size=int(rng.integers(1, 3)), replace=False).tolist())
        for mid in mids:
            calls[mid] = sorted(rng.choice(datas, size=int(rng.integers(1, 3)), replace=False).tolist())
    for _ in range(4):  # shared services: a mid-tier service of one area calls a data service of another
        a, b = rng.choice(AREAS, size=2, replace=False)
        mid = names[a * PER_AREA + 4 + int(rng.integers(0, 3))]
        data = names[b * PER_AREA + 7 + int(rng.integers(0, 3))]
        calls[mid] = sorted(set(calls[mid]) | {data})
    return calls


def _affected(graph: ServiceGraph, root: str) -> list[tuple[str, int]]:
    """The root and its callers up to BLAST_DEPTH edges, with their depth, nearest first."""
    seen, frontier, out = {root}, [root], [(root, 0)]
    for depth in range(1, BLAST_DEPTH + 1):
        nxt = sorted({c for s in frontier for c in graph.callers(s)} - seen)
        seen.update(nxt)
        out.extend((s, depth) for s in nxt)
        frontier = nxt
    return out


def _distance(graph: ServiceGraph, a: set[str], b: set[str], limit: int) -> int:
    """Fewest edges (either direction) between the two sets, or ``limit`` + 1 if more."""
    for hops in range(limit + 1):
        if any(graph.within(s, hops) & b for s in a):
            return hops
    return limit + 1


def simulate(seed: int = 0, faults: int = 20, overlap_share: float = 0.35, min_distance: int = 3) -> Replay:
    """A replay of ``faults`` faults on a 50-service tenant (see the module docstring).

    A fault overlapping another is at least ``min_distance`` call edges from everything the
    other one touches (1: only not on the same services; a harder replay)."""
    rng = np.random.default_rng(seed)
    calls = tenant_calls(rng)
    graph = ServiceGraph(calls)
    candidates = sorted(s for s in graph.services if graph.callers(s))  # a fault with a blast radius
    area_of: dict[str, str] = {}
    for gateway in sorted(s for s in graph.services if not graph.callers(s)):
        for service in graph.dependencies(gateway, 3) | {gateway}:
            area_of.setdefault(service, gateway)
    made: list[Fault] = []
    signals: list[tuple[datetime, Signal]] = []
    fault_of: dict[str, int] = {}
    clock = START
    for fault_id in range(faults):
        overlapping = bool(made) and rng.random() < overlap_share and not made[-1].overlapping
        if overlapping:
            other = made[-1]
            far = [s for s in candidates if area_of.get(s) != area_of.get(other.root)
                   and _distance(graph, {a for a, _ in _affected(graph, s)}, set(other.services),
                                 min_distance) >= min_distance]
            root = str(rng.choice(far or candidates))
            started = other.started_at + timedelta(seconds=float(rng.uniform(0, 300)))
        else:
            root = str(rng.choice(candidates))
            last_end = max((f.ended_at for f in made), default=clock)
            started = last_end + timedelta(minutes=float(rng.uniform(30, 90)))
        length = timedelta(minutes=float(rng.uniform(10, 40)))
        count = int(rng.integers(5, 31))
        affected = _affected(graph, root)[:max(1, count - 2)]  # room for at least two more signals
        fault = Fault(fault_id, root, started, started + length, tuple(s for s, _ in affected), overlapping)
        made.append(fault)
        for signal in _fault_signals(fault, affected, count, rng):
            signals.append((signal.started_at, signal))
            fault_of[signal.signal_id] = fault_id
    signals.sort(key=lambda pair: (pair[0], pair[1].signal_id))
    return Replay(calls, made, [s for _, s in signals], fault_of)


def _fault_signals(fault: Fault, affected: list[tuple[str, int]], count: int,
                   rng: np.random.Generator) -> list[Signal]:
    """One episode per affected service for the fault's length, then extra signals on them to ``count``."""
    out: list[Signal] = []
    length = (fault.ended_at - fault.started_at).total_seconds()
    lag = {s: depth * float(rng.uniform(20, 90)) for s, depth in affected}
    for service, depth in affected:
        start = fault.started_at + timedelta(seconds=lag[service] + float(rng.uniform(0, 30)))
        end = fault.ended_at + timedelta(seconds=lag[service] + float(rng.uniform(0, 120)))
        severity = Severity.ERROR if depth == 0 else Severity.WARNING
        out.append(_signal(fault, len(out), SignalKind.WATCHDOG_EPISODE, service, start, end, severity))
    weights = np.array([3.0 if depth == 0 else 1.0 for _, depth in affected])
    while len(out) < count:
        service = affected[int(rng.choice(len(affected), p=weights / weights.sum()))][0]
        kind = SignalKind(rng.choice(["watchdog_episode", "alertmanager_alert", "trace_episode"], p=[0.6, 0.3, 0.1]))
        offset = lag[service] + float(rng.uniform(0, 0.7 * length))
        start = fault.started_at + timedelta(seconds=offset)
        end = start + timedelta(seconds=float(rng.uniform(60, max(61.0, length - offset + 120))))
        severity = Severity.CRITICAL if kind is SignalKind.ALERTMANAGER_ALERT and rng.random() < 0.4 else \
            Severity.WARNING
        out.append(_signal(fault, len(out), kind, service, start, end, severity))
    return out


def _signal(fault: Fault, index: int, kind: SignalKind, service: str, start: datetime, end: datetime,
            severity: Severity) -> Signal:
    # Signal ids say nothing about their fault: a hash, as the engine's anomaly ids are.
    signal_id = "anom-" + hashlib.blake2b(f"{fault.fault_id}/{index}".encode(), digest_size=8).hexdigest()
    return Signal(TENANT, signal_id, kind, service, start, end, severity, 0.99)


@dataclass
class ReplayResult:
    grouper: IncidentGrouper
    opened: int = 0
    dropped: int = 0
    changes: list[StateChange] = field(default_factory=list)
    rca_requests: int = 0

    @property
    def incidents(self) -> list[Incident]:
        """Incidents left (those merged into another are not)."""
        return [i for i in self.grouper.incidents() if i.merged_into is None]


# An RCA answer for a request at a moment: (root cause or None, blast radius).
Analyst = Callable[[Incident, RcaRequest, datetime], tuple[str | None, tuple[str, ...]]]


def engine_analyst(replay: Replay, metrics: ReplayMetrics, focus_on_calls: bool = True) -> Analyst:
    """Answers as a live RCA worker would, from ``metrics`` (:mod:`aiops.bench.incident_metrics`),
    given ``replay.calls`` as the declared topology."""
    rca = RcaSettings(focus_on_calls=focus_on_calls)
    ranker = build("ranker", rca.ranker)  # the default, as a tenant without a choice of its own gets

    def answer(incident: Incident, request: RcaRequest, now: datetime) -> tuple[str | None, tuple[str, ...]]:
        return analyse_request(metrics, replay, request, now, ranker, rca)
    return answer


def undeclared(replay: Replay, share: float, seed: int) -> Replay:
    """The replay as a tenant that declared its topology with ``share`` of the calls missing
    (the services still make them: the metrics and signals are the same)."""
    rng = np.random.default_rng(20_000 + seed)
    calls = {caller: [c for c in callees if rng.random() >= share] for caller, callees in replay.calls.items()}
    return replace(replay, calls={caller: callees for caller, callees in calls.items() if callees})


def signal_end(signal: Signal) -> datetime:
    """When a replay's signal ended (every simulated signal ends)."""
    assert signal.ended_at is not None
    return signal.ended_at


def replay_incidents(replay: Replay, settings: IncidentGroupingSettings, analyst: Analyst) -> ReplayResult:
    """Feed the replay's signals (starts and ends) in time order, ticking, answering RCA requests.

    Each request is answered RCA_SECONDS later by ``analyst``, recorded
    as the incident manager records a finished analysis (a re-run's through ``record_rerun``)."""
    graph = replay.graph
    clock = ManualClock(START)
    result = ReplayResult(IncidentGrouper(TENANT, settings, clock, graph))
    queue: list[tuple[datetime, int, str, Signal | RcaRequest | None]] = []
    order = 0

    def push(when: datetime, kind: str, payload: Signal | RcaRequest | None) -> None:
        nonlocal order
        heapq.heappush(queue, (when, order, kind, payload))
        order += 1

    for signal in replay.signals:
        push(signal.started_at, "start", replace(signal, ended_at=None))
        push(signal_end(signal), "end", signal)
    last = max(signal_end(s) for s in replay.signals) + timedelta(seconds=settings.quiet_seconds + 2 * TICK_SECONDS)
    tick = START
    while tick <= last:
        push(tick, "tick", None)
        tick += timedelta(seconds=TICK_SECONDS)
    while queue:
        when, _, kind, payload = heapq.heappop(queue)
        clock.set(when)
        outcomes = []
        if kind == "tick":
            outcomes = result.grouper.tick()
        elif kind == "rca":
            assert isinstance(payload, RcaRequest)  # as pushed: "rca" carries the request
            incident = result.grouper.incident(payload.incident_id)
            if incident.is_open:
                root, blast = analyst(incident, payload, when)
                record = result.grouper.record_rerun if payload.rerun else result.grouper.record_analysis
                outcomes = [record(payload.incident_id, root, blast)]
        else:
            assert isinstance(payload, Signal)  # as pushed: "start" and "end" carry the signal
            outcomes = [result.grouper.observe(payload)]
        for outcome in outcomes:
            result.opened += outcome.action is Action.OPENED
            result.dropped += outcome.action is Action.DROPPED
            result.changes.extend(outcome.changes)
            if isinstance(outcome.rca, RcaRequest):
                result.rca_requests += 1
                push(when + timedelta(seconds=RCA_SECONDS), "rca", outcome.rca)
    return result


@dataclass(frozen=True)
class IncidentScore:
    signals: int
    faults: int
    incidents_opened: int
    incidents_left: int
    noise_reduction: float  # 1 - opened / signals
    purity: float  # share of incidents left holding one fault's signals only
    faults_split: int  # faults whose signals are in more than one incident
    root_cause_right: float  # share of incidents left whose root cause is their (main) fault's service
    notifications: int  # to one channel that hears every change kind
    dropped: int


def main_fault(faults: Counter) -> int | None:
    """The fault most of an incident's signals came from (``faults``: fault id -> signals), lowest id on ties."""
    return min(faults, key=lambda f: (-faults[f], -1 if f is None else f)) if faults else None


def score(replay: Replay, result: ReplayResult) -> IncidentScore:
    """Compare the incidents with the faults the replay was made of (read only here, after grouping)."""
    incidents = result.incidents
    pure = right = 0
    homes: dict[int, set[str]] = {}
    for incident in incidents:
        faults = Counter(replay.fault_of[m.signal_id] for m in incident.members)
        pure += len(faults) == 1
        main = main_fault(faults)
        right += main is not None and incident.root_cause == replay.faults[main].root
        for fault in faults:
            homes.setdefault(fault, set()).add(incident.incident_id)
    channel = parse_channel({"name": "all", "type": "webhook", "url": "https://hooks.example.com/x",
                             "secret": "bench-secret-0123456789"})
    sent = notifications_for(result.changes, {"ch": channel}, NotificationSettings())
    n = len(replay.signals)
    return IncidentScore(n, len(replay.faults), result.opened, len(incidents), 1 - result.opened / n,
                         pure / max(1, len(incidents)), sum(len(h) > 1 for h in homes.values()),
                         right / max(1, len(incidents)), len(sent), result.dropped)


def evaluate(seed: int = 0, settings: IncidentGroupingSettings | None = None, min_distance: int = 3,
             focus_on_calls: bool = True, undeclared_share: float = 0.0) -> IncidentScore:
    """Simulate, group and score one replay; ``settings`` default to the engine's grouping defaults.

    The analyses are the engine's RCA on the replay's simulated metrics, with
    ``rca.focus_on_calls`` as given. With ``undeclared_share`` the tenant's declared topology
    (what the grouping and the analysis are given) misses that share of the calls the
    services make."""
    settings = settings or IncidentGroupingSettings(max_resolved_kept=10_000)
    replay = simulate(seed, min_distance=min_distance)
    declared = undeclared(replay, undeclared_share, seed) if undeclared_share else replay
    analyst = engine_analyst(declared, simulate_metrics(replay, seed), focus_on_calls)
    return score(replay, replay_incidents(declared, settings, analyst))


def run(seeds: int = 10) -> BenchResult:
    result = BenchResult("incidents")
    main = evaluate(0)
    result.add("signals in (seed 0: 50 services, 20 faults)", main.signals, "signals")
    result.add("incidents opened (merged ones included)", main.incidents_opened, "incidents",
               note=f"{main.incidents_left} left after merges; {main.faults_split} faults split; "
                    f"{main.dropped} signals dropped")
    result.add("noise reduction (1 - opened / signals)", 100 * main.noise_reduction, "%", ">= 90")
    result.add("purity (incidents holding one fault's signals only)", 100 * main.purity, "%", ">= 95")
    result.add("root cause right per incident (the engine's RCA on the replay's metrics)", 100 * main.root_cause_right,
               "%")
    result.add("notifications out to one channel (every change kind)", main.notifications, "notifications",
               note=f"{main.notifications / main.signals:.2f} per signal")
    scores = [evaluate(seed) for seed in range(seeds)]
    result.add(f"noise reduction, worst of {seeds} seeds", 100 * min(s.noise_reduction for s in scores), "%", ">= 90",
               note=f"mean {100 * statistics.mean(s.noise_reduction for s in scores):.1f} %")
    result.add(f"purity, worst of {seeds} seeds", 100 * min(s.purity for s in scores), "%", ">= 95",
               note=f"mean {100 * statistics.mean(s.purity for s in scores):.1f} %")
    result.add(f"root cause right per incident, mean of {seeds} seeds", 100 * statistics.mean(
        s.root_cause_right for s in scores), "%", note=f"worst {100 * min(s.root_cause_right for s in scores):.1f} %")
    variants = {"without rca.focus_on_calls": {"focus_on_calls": False},
                f"declared topology missing {MISSING_CALLS:.0%} of the calls": {"undeclared_share": MISSING_CALLS},
                "the same, without rca.focus_on_calls": {"undeclared_share": MISSING_CALLS,
                                                         "focus_on_calls": False}}
    for name, options in variants.items():
        other = [evaluate(seed, **options) for seed in range(seeds)]  # type: ignore[arg-type]
        result.add(f"{name}, mean of {seeds} seeds: root cause right",
                   100 * statistics.mean(s.root_cause_right for s in other), "%",
                   note=f"purity {100 * statistics.mean(s.purity for s in other):.1f} % (worst "
                        f"{100 * min(s.purity for s in other):.1f} %), noise reduction "
                        f"{100 * statistics.mean(s.noise_reduction for s in other):.1f} %")
    for hops in (0, 2, 3):  # how the one graph setting moves the two figures
        other = [evaluate(seed, IncidentGroupingSettings(max_hops=hops, max_resolved_kept=10_000))
                 for seed in range(seeds)]
        result.add(f"purity with max_hops={hops}, mean of {seeds} seeds",
                   100 * statistics.mean(s.purity for s in other), "%",
                   note=f"noise reduction {100 * statistics.mean(s.noise_reduction for s in other):.1f} %")
    from aiops.bench.incidents_live import live_replay, p95

    live = live_replay()
    result.add("live: incidents opened by the engine (seed 0, alerts over 9093)", live.incidents_opened,
               "incidents", note=f"{live.signals} signals posted; {live.unsigned} webhooks failed verification"
                    + ("" if live.settled else "; NOT SETTLED: scored at the timeout"))
    result.add("live: noise reduction", 100 * live.noise_reduction, "%", ">= 90")
    result.add("live: purity", 100 * live.purity, "%", ">= 95")
    result.add("live: root cause right per incident (the engine's RCA workers on the stored metrics)",
               100 * live.root_cause_right, "%", note=f"{live.analysed} of the incidents left analysed")
    result.add("live: signal-to-notification latency p95 (POST of the opening signal to opened webhook)",
               p95(live.latencies), "s", "< 5",
               note=f"p50 {statistics.median(live.latencies):.2f} s over {len(live.latencies)} incidents"
               if live.latencies else "no incident notified")
    harder = [evaluate(seed, min_distance=1) for seed in range(seeds)]
    result.add(f"purity when overlapping faults may be adjacent, mean of {seeds} seeds",
               100 * statistics.mean(s.purity for s in harder), "%",
               note=f"worst {100 * min(s.purity for s in harder):.1f} %; noise reduction "
                    f"{100 * statistics.mean(s.noise_reduction for s in harder):.1f} %")
    return result
