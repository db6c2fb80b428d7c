"""``Signal``: one measure of change per service, with its evidence; and the count statistics they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.rankers.base import Evidence


@dataclass
class Signal:
    name: str  # e.g. "trace.span_self_time"
    kind: str  # metric | trace | log
    score: dict[str, float]  # per service, >= 0; services without evidence may be absent
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)  # per service, strongest first
    onset: dict[str, float] = field(default_factory=dict)  # per service, unix seconds it began to move
    confidence: float = 1.0  # in [0, 1]: how far the leader's change is beyond noise, where the signal can tell

    def normalised(self, services: list[str]) -> np.ndarray:
        """Scores of ``services`` divided by the strongest one (all zero when none moved)."""
        values = np.array([max(self.score.get(s, 0.0), 0.0) for s in services], dtype=float)
        top = values.max() if values.size else 0.0
        return values / top if top > 0 else np.zeros_like(values)

    def margin(self) -> float:
        """How clearly the strongest service stands out: ``(first - second) / first`` in [0, 1]
        (1 when only one service has evidence, 0 when two share the lead or none has any)."""
        values = sorted((v for v in self.score.values() if v > 0), reverse=True)
        if not values:
            return 0.0
        return 1.0 if len(values) == 1 else (values[0] - values[1]) / values[0]

    def vote(self, services: list[str]) -> np.ndarray:
        """What this signal contributes to the fused score: its normalised scores times its margin.

        A signal whose leader stands far above the rest speaks loudly; one that spreads the
        same change over many services (noise, or a symptom everyone shares) barely speaks.
        """
        return self.normalised(services) * self.margin() * self.confidence


def count_surprise(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
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
