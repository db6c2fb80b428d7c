"""``Signal``: one measure of change per service, with its evidence; and the count statistics they share.

Every signal scores a service by a *strength* in [0, 1] whose meaning is fixed by the
measure, not by the case: the share of an operation's time after the start that is new
(latency), the share of due calls or log lines that did not come (missing events), a
saturating count of error lines or spans that were not due (new errors), a rank-based
share for metrics. A strength is therefore comparable from case to case and from signal to
signal, which a score divided by the case's strongest (the previous fusion) is not: there a
noise-level change that happens to lead a quiet signal spoke as loudly as a real fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from models.rankers.base import Evidence


@dataclass
class Signal:
    name: str  # e.g. "trace.span_self_time"
    kind: str  # metric | trace | log
    score: dict[str, float]  # per service, a strength in [0, 1]; services without evidence may be absent
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)  # per service, strongest first
    onset: dict[str, float] = field(default_factory=dict)  # per service, unix seconds it began to move
    confidence: float = 1.0  # in [0, 1]: how far the leader's change is beyond noise, where the signal can tell
    order: list[str] | None = None  # set when the signal is itself a whole ranking (the metrics-only baseline)

    def strengths(self, services: list[str]) -> np.ndarray:
        """The scores of ``services``, clipped to [0, 1] (0 where a service has none)."""
        return np.clip(np.array([self.score.get(s, 0.0) for s in services], dtype=float), 0.0, 1.0)

    def margin(self) -> float:
        """How clearly the strongest service stands out: ``(first - second) / first`` in [0, 1]
        (1 when only one service has evidence, 0 when two share the lead or none has any)."""
        values = sorted((v for v in self.score.values() if v > 0), reverse=True)
        if not values:
            return 0.0
        return 1.0 if len(values) == 1 else (values[0] - values[1]) / values[0]

    def vote(self, services: list[str]) -> np.ndarray:
        """What this signal contributes to the fused score: each service's strength times the
        signal's decisiveness in this case (its margin and confidence).

        A signal whose leader stands far above the rest speaks loudly; one that spreads the
        same change over many services (noise, or a symptom everyone shares) barely speaks;
        and a weak change (a few percent of calls missing) stays weak even when it leads.
        """
        return self.strengths(services) * self.margin() * self.confidence


def saturating(count: np.ndarray | float) -> np.ndarray | float:
    """``n / (n + 1)``: a count of unexpected events as a strength in [0, 1) (one event 0.5, three 0.75)."""
    return count / (count + 1.0)


def novel_count(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``o * o / (o + e)``: the events seen, weighted by the share of them that was not due.

    A template never seen before counts in full, one that came as often as the normal part
    predicts counts half, chronic chatter (``e`` far above ``o``) hardly counts. It does not
    need ``e`` to be right, only of the right size: the normal part of a window is short and
    may hold an earlier fault of its own.
    """
    o = np.asarray(observed, dtype=float)
    e = np.maximum(np.asarray(expected, dtype=float), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(o > 0, o * o / (o + e), 0.0)


def count_surprise(observed: npt.ArrayLike, expected: npt.ArrayLike) -> np.ndarray:
    """Signed Poisson log-likelihood ratio of seeing ``observed`` counts where ``expected`` were due.

    ``o log(o/e) - o + e``, positive when more came than expected, negative when fewer: the
    evidence (in nats) that the rate changed. Expected counts are floored at 1e-3, so a count
    never seen before is very surprising but finite.
    """
    o = np.asarray(observed, dtype=float)
    e = np.maximum(np.asarray(expected, dtype=float), 1e-3)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(o > 0, o * np.log(np.where(o > 0, o, 1.0) / e), 0.0) - o + e
    return np.sign(o - e) * ratio
