"""One ranking from metrics, traces and logs: each modality's evidence, normalised, weighted, summed.

Each signal (:mod:`models.rankers.signals`) scores the services whose own behaviour changed,
in its own units. They are made comparable by dividing by the case's strongest score for
that signal (so a signal says "this service, and this much less that one") and weighted by
how clearly that strongest one leads (its margin over the runner-up: a signal that moves
many services alike is noise or a shared symptom and barely votes), averaged within a
modality over the signals that saw anything, and summed across modalities with one weight
each (``metric_weight``, ``trace_weight``, ``log_weight``). A modality the tenant does not
send, or that saw no change, adds nothing, so the same ranker serves metrics-only tenants.

Services tied on the fused score are ordered by the earliest metric onset (a callee's
fault reaches its callers later), then by name. The declared topology is not needed: the
calls that matter are the observed ones, in the spans. Scores are shares of the total, as the
other rankers' are. The settings are few on purpose: the weights are chosen by
cross-validation across systems (``aiops eval rca --cross-validate``), not per dataset.

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

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from models.rankers.base import LOG, METRIC, TRACE, RankedCause, RankerConfig, RootCauseRanker, shares
from models.rankers.signals.base import Signal
from models.rankers.signals.logs import log_signals
from models.rankers.signals.metrics import metric_signal
from models.rankers.signals.traces import trace_signals
from models.telemetry import LogTable, MetricFrame, SpanTable

if TYPE_CHECKING:  # annotations only
    from models.telemetry.graph import ServiceGraph

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

    def __init__(self, config: MultimodalConfig) -> None:
        super().__init__(config)
        self.config: MultimodalConfig = config

    def signals(self, frame: MetricFrame, start: float, *, spans: SpanTable | None = None,
                logs: LogTable | None = None) -> list[Signal]:
        """Every signal of every modality this ranker uses (the expensive half of :meth:`rank`)."""
        c = self.config
        found: list[Signal] = []
        if METRIC in c.modalities:
            found.append(metric_signal(frame, start, relative_floor=c.relative_floor, min_z=c.min_z,
                                       evidence=c.evidence))
        span_rows = None
        if spans is not None and len(spans) and (TRACE in c.modalities or LOG in c.modalities):
            trace_found, span_rows = trace_signals(spans, start, min_before=c.min_spans, evidence=c.evidence)
            if TRACE in c.modalities:
                found += trace_found
        if LOG in c.modalities:
            found += log_signals(logs, start, span_rows, evidence=c.evidence)
        return found

    def fuse(self, signals: list[Signal], services: list[str]) -> list[RankedCause]:
        """The ranking from already computed signals (cheap: cross-validation re-fuses cached signals)."""
        c = self.config
        weights = {METRIC: c.metric_weight, TRACE: c.trace_weight, LOG: c.log_weight}
        services = sorted(set(services).union(*(s.score for s in signals)))
        total = np.zeros(len(services))
        for kind in (METRIC, TRACE, LOG):
            mine = [s for s in signals if s.kind == kind and any(v > 0 for v in s.score.values())]
            if mine and weights[kind] > 0:
                total += weights[kind] * np.mean([s.vote(services) for s in mine], axis=0)
        onset = {}
        for s in signals:
            for service, at in s.onset.items():
                onset[service] = min(onset.get(service, np.inf), at)
        order = sorted(range(len(services)), key=lambda i: (-round(total[i], 12), onset.get(services[i], np.inf),
                                                            services[i]))
        share = shares({services[i]: float(total[i]) for i in order})
        return [RankedCause(services[i], round(share[services[i]], 4), self._evidence(signals, services[i]))
                for i in order]

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
        return self.fuse(self.signals(frame, start, spans=spans, logs=logs), services)
