"""Rank services by how far their metrics moved after the anomaly start (BARO, N-sigma).

What tops RCAEval's metric-based benchmarks is this simple idea, not causal graphs: the
root cause is the service whose own metrics deviate most from their own normal. BARO
(Pham et al., FSE 2024) standardises each metric with the median and IQR of the normal
period and ranks by the largest deviation after the change point; N-sigma does the same
with mean and standard deviation, which outliers in the normal period inflate. Graph
methods (RCD, CIRCA) must first learn a causal structure from a few hundred noisy points;
errors in that structure move the ranking, so they score lower on these sets. Here the
anomaly start is given (the watchdog's detection time or the alert's start), so no change
point detection is needed; a relative noise floor (see :func:`deviation`) keeps flat
metrics from dominating. Near-ties are settled by time: a fault in a callee shows up in
its callers' latency too, often as strongly, but later, so among the services whose
deviation is within ``tie_ratio`` of the strongest left (a factor of two by default:
sigma estimated from an hour of points is itself uncertain by tens of percent), the one
that moved first (its first point past half its peak) comes next; when they moved in the
same step, the declared topology (``PUT /api/v1/topology``) puts a callee before its callers.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from models.rankers.base import (
    Deviation,
    RankedCause,
    RankerConfig,
    RootCauseRanker,
    by_service,
    deviation,
    shares,
)
from models.telemetry import LogTable, MetricFrame, SpanTable
from models.telemetry.graph import ServiceGraph, known_callees


class DeviationConfig(RankerConfig):
    relative_floor: float = Field(0.01, ge=0, le=1, description="scale floor as a share of the metric's level")
    onset_z: float = Field(3.0, gt=0, description="|z| that counts as the onset of a deviation")
    tie_ratio: float = Field(0.5, gt=0, le=1, description="deviations this close to the strongest count as a tie")


def order_by_strength_then_onset(strength: dict[str, float], onset: dict[str, float], tie_ratio: float,
                                 callees: dict[str, set[str]] | None = None) -> list[str]:
    """Strongest first, except that among near-ties (within ``tie_ratio``) the earliest onset wins.

    ``callees`` (declared topology, transitively) settles what onset cannot: among
    near-ties that moved in the same step, a service that calls another contender comes
    after it (trouble travels from callee to caller).
    """
    callees = callees or {}
    left = sorted(strength, key=lambda s: (-strength[s], onset[s], s))
    ordered = []
    while left:
        bar = strength[left[0]] * tie_ratio
        contenders = [s for s in left if strength[s] >= bar and strength[s] > 0]
        if contenders:
            first = min(onset[s] for s in contenders)
            same_time = [s for s in contenders if onset[s] == first]
            pick = min(same_time, key=lambda s: (bool(callees.get(s, set()) & set(same_time)), -strength[s], s))
        else:
            pick = left[0]
        ordered.append(pick)
        left.remove(pick)
    return ordered


def onsets(frame: MetricFrame, dev: Deviation, tie_ratio: float) -> dict[str, float]:
    """When each service started to move: the earliest onset among its strongest metrics."""
    out = {}
    for service, rows in frame.service_rows().items():
        peak = max(abs(float(dev.z[r])) for r in rows)
        out[service] = min((float(dev.onset[r]) for r in rows if abs(dev.z[r]) >= tie_ratio * peak), default=np.inf)
    return out


def ranked(per_service: dict[str, tuple[float, list]], strength: dict[str, float], onset: dict[str, float],
           tie_ratio: float, graph: ServiceGraph | None = None) -> list[RankedCause]:
    """Causes in onset-settled order; scores are the strength shares, handed out best first."""
    ordered = order_by_strength_then_onset(strength, onset, tie_ratio, known_callees(graph))
    values = sorted(shares(strength).values(), reverse=True)
    return [RankedCause(s, round(v, 4), per_service[s][1]) for s, v in zip(ordered, values, strict=True)]


class BaroRanker(RootCauseRanker):
    """Median/IQR standardisation (BARO's RobustScaler); the default ``multimodal`` ranks so on metrics alone."""

    name = "baro"
    Config = DeviationConfig
    robust = True

    def __init__(self, config: DeviationConfig) -> None:
        super().__init__(config)
        self.config: DeviationConfig = config

    def rank(self, frame: MetricFrame, start: float, graph: ServiceGraph | None = None, *,
             spans: SpanTable | None = None, logs: LogTable | None = None) -> list[RankedCause]:
        dev = deviation(frame, start, robust=self.robust, relative_floor=self.config.relative_floor,
                        onset_z=self.config.onset_z)
        per_service = by_service(frame, dev, self.config.evidence)
        onset = onsets(frame, dev, self.config.tie_ratio)
        return ranked(per_service, {s: v[0] for s, v in per_service.items()}, onset, self.config.tie_ratio, graph)


class NSigmaRanker(BaroRanker):
    """Mean/standard-deviation standardisation (N-sigma), for comparison."""

    name = "nsigma"
    robust = False
