"""A running z-score over each series' whole history (Welford's mean and variance).

>>> import numpy as np
>>> detector = RunningZScoreDetector(RunningZScoreDetector.Config())
>>> values = np.r_[np.random.default_rng(0).normal(10, 1, 300), 40.0]
>>> scores = detector.score_series(values, np.arange(values.size, dtype=float))
>>> bool(scores.score[-1] > 0.9), bool(scores.score[50:-1].max() < 0.9)
(True, True)
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from models.detectors.base import Detector, DetectorConfig, Scores, State, flag_wild, screen


class RunningZScoreConfig(DetectorConfig):
    warmup: int = Field(30, ge=2, description="points before any score above 0")


class RunningZScoreDetector(Detector):
    """|value - mean| / standard deviation of everything seen so far, as a score in [0, 1)."""

    name = "example_zscore"
    Config = RunningZScoreConfig

    def __init__(self, config: RunningZScoreConfig) -> None:
        super().__init__(config)
        self.config: RunningZScoreConfig = config

    def init_state(self, size: int) -> State:
        return {"count": np.zeros(size), "mean": np.zeros(size), "m2": np.zeros(size)}

    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        clean, usable, wild = screen(values, active)
        count, mean, m2 = state["count"], state["mean"], state["m2"]
        sigma = np.sqrt(m2 / np.maximum(count - 1, 1)) + 1e-9
        z = np.where(usable & (count >= self.config.warmup), (clean - mean) / sigma, 0.0)
        ratio = np.minimum(np.abs(z) / 4.0, 1e100) ** 2
        count[usable] += 1
        delta = np.where(usable, clean - mean, 0.0)
        mean[usable] += delta[usable] / count[usable]
        m2[usable] += delta[usable] * (clean[usable] - mean[usable])
        return flag_wild(Scores(ratio / (1.0 + ratio), z), values, wild)
