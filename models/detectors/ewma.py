"""Exponentially weighted mean and deviation: the simplest useful streaming detector.

Assumes a series wanders slowly around a level; a point far from the recent level, in
units of the recent typical deviation, is anomalous. Robust to its own outliers because
an anomalous point updates the deviation less (its contribution is clipped).

>>> import numpy as np
>>> detector = EwmaDetector(EwmaDetector.Config())
>>> values = np.r_[np.random.default_rng(0).normal(10, 1, 500), 40.0]
>>> scores = detector.score_series(values, np.arange(values.size, dtype=float))
>>> bool(scores.score[-1] > 0.9), bool(scores.score[100:-1].max() < 0.9)
(True, True)
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from models.detectors.base import Detector, DetectorConfig, Scores, State


class EwmaConfig(DetectorConfig):
    halflife: float = Field(200.0, gt=1, description="points for the level's memory to halve")
    warmup: int = Field(30, ge=2, description="points before any score above 0")
    clip: float = Field(6.0, gt=1, description="deviations beyond this many sigmas update the spread clipped")


class EwmaDetector(Detector):
    """Robust z-score against an exponentially weighted level and absolute deviation."""

    name = "ewma"
    Config = EwmaConfig

    def __init__(self, config: EwmaConfig) -> None:
        super().__init__(config)
        self.config: EwmaConfig = config
        self._alpha = 1.0 - 0.5 ** (1.0 / config.halflife)

    def init_state(self, size: int) -> State:
        return {"level": np.zeros(size), "spread": np.zeros(size), "seen": np.zeros(size)}

    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        level, spread, seen = state["level"], state["spread"], state["seen"]
        first = active & (seen == 0)
        level[first] = values[first]
        deviation = values - level
        sigma = np.maximum(spread * 1.2533, 1e-9 + 1e-6 * np.abs(level))  # mean abs dev -> sigma
        z = np.where(active & (seen >= self.config.warmup), deviation / sigma, 0.0)
        score = np.where(active, z_to_score(z), 0.0)
        # While warming up, plain running means (1/n) so level and spread are right from the start.
        a = np.maximum(self._alpha, 1.0 / (seen + 1.0))
        limit = np.where(seen >= self.config.warmup, self.config.clip * sigma, np.inf)
        clipped = np.clip(deviation, -limit, limit)
        level[active] += a[active] * clipped[active]
        spread[active] += a[active] * (np.abs(clipped[active]) - spread[active])
        seen[active] += 1
        return Scores(np.clip(score, 0.0, 1.0), z)


def z_to_score(z: np.ndarray, scale: float = 4.0) -> np.ndarray:
    """|z| -> [0, 1), monotone and never saturating, so extreme points stay ordered.

    ``scale`` sigmas map to 0.5; 3 x ``scale`` to 0.9.
    """
    ratio = np.minimum(np.abs(z) / scale, 1e100) ** 2  # capped: inf / inf would be NaN
    return ratio / (1.0 + ratio)
