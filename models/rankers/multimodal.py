"""One ranking from metrics, traces and logs: each modality's evidence, weighed by how decisive it is here.

Each signal (:mod:`models.rankers.signals`) scores the services whose own behaviour changed
by a strength in [0, 1] whose meaning is fixed by the measure (the share of an operation's
time that is new; the share of its calls or log lines that did not come, weighted by how
unlikely the shortfall is by chance; a saturating count of error lines that were not due; a
rank-based share for metrics). Its vote is that strength times how decisive the signal is in
this case: its margin (how clearly its leader stands out: a signal that moves many services
alike is noise or a shared symptom and barely votes) and, for metrics, its confidence
(whether the leader moved beyond noise at all). Votes are averaged within a modality over
the signals that saw anything and summed across modalities with one weight each
(``metric_weight``, ``trace_weight``, ``log_weight``).

Dividing each signal by the case's strongest score instead (the first version) made a
noise-level change that led a quiet signal as loud as a real fault: on Nezha's Train Ticket
cases the trace signals lead with a few sub-millisecond query slowdowns in most windows.

When no trace or log signal sees anything (a metrics-only tenant, or spans and logs that
show nothing after the start), the ranking is :class:`~models.rankers.deviation.BaroRanker`'s
(:func:`baseline_signal`): the kind-ranked metric signal is built to be one voice among the
others and, alone on clean metrics, loses to BARO. So this ranker is never worse than the
metrics-only default it replaced.

Services tied on the fused score are ordered by the earliest metric onset (a callee's fault
reaches its callers later), then callee before caller where a call is known (declared with
``PUT /api/v1/topology`` or observed in the spans; as BARO does), then by name. Favouring
callees over callers beyond exact ties, on the declared or the observed call graph, was
measured on Nezha's cases and lost (Avg@5 0.658 -> 0.654 at a tie ratio of 0.95, 0.562 at
0.5): the faulty service there is as often a caller (the front end, checkout) as a leaf.
Scores are shares of the total, as the other rankers' are. The settings are few on purpose:
the two weights are chosen by cross-validation across systems (``aiops eval rca
--cross-validate``), not per dataset.

>>> import numpy as np
>>> from models.telemetry import MetricFrame
>>> times = np.arange(30) * 60.0
>>> cpu = np.vstack([np.full(30, 10.0), np.r_[np.full(20, 10.0), np.full(10, 90.0)]])
>>> cpu += np.random.default_rng(0).normal(0, 1, cpu.shape)
>>> frame = MetricFrame(times, 60.0, [("api", "cpu"), ("db", "cpu")], cpu)
>>> [c.service_id for c in MultimodalRanker(MultimodalConfig()).rank(frame, 20 * 60.0)]
['db', 'api']
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from models.rankers.base import LOG, METRIC, TRACE, RankedCause, RankerConfig, RootCauseRanker, shares
from models.rankers.signals.base import Signal
from models.rankers.signals.logs import log_signals
from models.rankers.signals.metrics import metric_signal
from models.rankers.signals.traces import trace_signals
from models.registry import build
from models.telemetry import LogTable, MetricFrame, SpanTable
from models.telemetry.graph import ServiceGraph, known_callees

Modality = Literal["metric", "trace", "log"]
MIN_EVIDENCE_Z = 2.0  # evidence items that moved less than this (in their own units) are not listed


class MultimodalConfig(RankerConfig):
    metric_weight: float = Field(1.0, ge=0, le=100, description="weight of the metric evidence")
    # 0.25: what cross-validation chose on each system (Online Boutique and Train Ticket, tuned on
    # one and scored on the other, both ways); trace timings are noisier than metrics and logs.
    trace_weight: float = Field(0.25, ge=0, le=100, description="weight of the trace evidence")
    log_weight: float = Field(1.0, ge=0, le=100, description="weight of the log evidence")
    modalities: tuple[Modality, ...] = Field(("metric", "trace", "log"), min_length=1,
                                             description="which telemetry to use (the others are ignored)")
    relative_floor: float = Field(0.1, ge=0, le=1, description="metric scale floor, share of the metric's level")
    min_z: float = Field(0.0, ge=0, description="metric moves below this many sigmas are not evidence")
    min_spans: int = Field(3, ge=2, description="spans of an operation before the start needed to judge it")


class MultimodalRanker(RootCauseRanker):
    """Metric, trace and log evidence fused into one ranking (see the module docstring)."""

    name = "multimodal"
    Config = MultimodalConfig
    reads_telemetry = True

    def __init__(self, config: MultimodalConfig) -> None:
        super().__init__(config)
        self.config: MultimodalConfig = config

    def signals(self, frame: MetricFrame, start: float, graph: ServiceGraph | None = None, *,
                spans: SpanTable | None = None, logs: LogTable | None = None) -> list[Signal]:
        """Every signal of every modality this ranker uses (the expensive half of :meth:`rank`),
        and the metrics-only baseline ranking (:func:`baseline_signal`)."""
        c = self.config
        found: list[Signal] = []
        if METRIC in c.modalities:
            found.append(metric_signal(frame, start, relative_floor=c.relative_floor, min_z=c.min_z,
                                       evidence=c.evidence))
            found.append(baseline_signal(frame, start, graph, evidence=c.evidence))
        span_rows = None
        if spans is not None and len(spans) and (TRACE in c.modalities or LOG in c.modalities):
            trace_found, span_rows = trace_signals(spans, start, min_before=c.min_spans, evidence=c.evidence)
            if TRACE in c.modalities:
                found += trace_found
        if LOG in c.modalities:
            found += log_signals(logs, start, span_rows, evidence=c.evidence)
        return found

    def fuse(self, signals: list[Signal], services: list[str],
             callees: dict[str, set[str]] | None = None) -> list[RankedCause]:
        """The ranking from already computed signals (cheap: cross-validation re-fuses cached signals).

        ``callees``: each service's known callees, direct and indirect, to settle exact ties.
        When no trace or log signal saw anything, the ranking is the metrics-only baseline's.
        """
        c = self.config
        baseline = next((s for s in signals if s.name == BASELINE), None)
        signals = [s for s in signals if s.name != BASELINE]
        if baseline is not None and not any(s.kind != METRIC and any(v > 0 for v in s.score.values())
                                            for s in signals):
            return self._baseline(baseline, services)
        weights = {METRIC: c.metric_weight, TRACE: c.trace_weight, LOG: c.log_weight}
        services = sorted(set(services).union(*(s.score for s in signals)))
        total = np.zeros(len(services))
        for kind in (METRIC, TRACE, LOG):
            mine = [s for s in signals if s.kind == kind and any(v > 0 for v in s.score.values())]
            if mine and weights[kind] > 0:
                total += weights[kind] * np.mean([s.vote(services) for s in mine], axis=0)
        onset: dict[str, float] = {}
        for s in signals:
            for service, at in s.onset.items():
                onset[service] = min(onset.get(service, np.inf), at)

        def rank_key(i: int) -> tuple[float, float, str]:
            return -round(total[i], 12), onset.get(services[i], np.inf), services[i]

        order = sorted(range(len(services)), key=rank_key)
        order = callees_first(order, [(round(total[i], 12), onset.get(services[i], np.inf)) for i in range(
            len(services))], [callees.get(s, set()) for s in services] if callees else None, services)
        share = shares({services[i]: float(total[i]) for i in order})
        return [RankedCause(services[i], round(share[services[i]], 4), self._evidence(signals, services[i]))
                for i in order]

    @staticmethod
    def _baseline(baseline: Signal, services: list[str]) -> list[RankedCause]:
        order = list(baseline.order or [])
        order += sorted(set(services) - set(order))
        return [RankedCause(s, round(baseline.score.get(s, 0.0), 4), list(baseline.evidence.get(s, [])))
                for s in order]

    def _evidence(self, signals: list[Signal], service: str) -> list:
        """The service's evidence, strongest signal first, a few items each, at most ``evidence`` x modalities."""
        ranked = sorted((s for s in signals if s.score.get(service, 0) > 0 and s.evidence.get(service)),
                        key=lambda s: -s.score[service] / max(max(s.score.values()), 1e-12))
        out = []
        for s in ranked:
            out += s.evidence[service][: max(1, self.config.evidence // 2 + 1)]
        # Moves within the noise are not evidence; the strongest item stays so a cause is never bare.
        telling = [e for e in out if abs(e.z_score) >= MIN_EVIDENCE_Z]
        return (telling or out[:1])[: self.config.evidence * 3]

    def rank(self, frame: MetricFrame, start: float, graph: ServiceGraph | None = None, *,
             spans: SpanTable | None = None, logs: LogTable | None = None) -> list[RankedCause]:
        services = list(frame.services)
        if spans is not None:
            services += spans.services
        if logs is not None and len(logs):
            services += sorted(set(logs.service.tolist()))
        return self.fuse(self.signals(frame, start, graph, spans=spans, logs=logs), services,
                         known_callees(graph))


BASELINE = "metric.baseline"


def baseline_signal(frame: MetricFrame, start: float, graph: ServiceGraph | None, *, evidence: int = 3) -> Signal:
    """The metrics-only ranking: :class:`~models.rankers.deviation.BaroRanker`'s, whole.

    The kind-ranked metric signal is built to be one voice among the trace and log signals
    (on Nezha's noisy pod metrics it beats BARO alone: Avg@5 0.396 against 0.296), but alone,
    on clean metrics with a declared call graph, it loses to BARO's strongest-move ranking with
    near-ties settled by onset and topology (top-1 0.84 against 1.00 over 216 windows of the
    demo's simulated shop). So when only the metrics speak the ranking is BARO's, and the
    multimodal ranker is never worse than the metrics-only default it replaces.
    """
    ranking = build("ranker", "baro", {"evidence": evidence}).rank(frame, start, graph)
    return Signal(BASELINE, METRIC, {c.service_id: c.score for c in ranking},
                  {c.service_id: c.evidence for c in ranking}, order=[c.service_id for c in ranking])


def callees_first(order: list[int], keys: list, callees: list[set[str]] | None, services: list[str]) -> list[int]:
    """``order`` with each run of exact ties (same ``keys``) put callee before caller (known calls).

    A fault in a callee reaches its callers in the same minute on a coarse grid, so tied
    services are a chain, not a coincidence; :class:`~models.rankers.deviation.BaroRanker`
    settles them the same way.
    """
    if not callees:
        return order
    out: list[int] = []
    at = 0
    while at < len(order):
        end = at
        while end < len(order) and keys[order[end]] == keys[order[at]]:
            end += 1
        left = order[at:end]
        while left:
            names = {services[i] for i in left}
            pick = next((i for i in left if not callees[i] & (names - {services[i]})), left[0])
            out.append(pick)
            left.remove(pick)
        at = end
    return out
