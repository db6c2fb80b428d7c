"""Any detector's raw score made a rare, calibrated alarm: HTM's anomaly likelihood around it.

What it assumes: the wrapped detector's score rises when a point surprises it, and what
matters is not how large that score is but how unusual it is *for this series* (a spiky
series is always a little surprising, a smooth one never). :mod:`models.detectors.likelihood`
turns the raw score into the tail probability of its moving average and reports
``-log10(tail) / 10``, so each +0.1 of ``anomaly_score`` is ten times rarer (a 0.99 is
10^0.9 = 7.9 times rarer than a 0.9); ``z_score`` is the wrapped detector's.

Two rules from NAB's detectors complete it. A value outside every value the series has
shown, widened by ``range_tolerance`` of that range, scores 1 (NAB's HTM detector: people
label new extremes anomalous). After an alarm the next ``rest`` points score below the
threshold (CAD OSE's rest period): one event, one alarm.

>>> import numpy as np
>>> t = np.arange(0, 14 * 86400, 300.0)
>>> values = 10 + 5 * np.sin(2 * np.pi * t / 86400) + np.random.default_rng(0).normal(0, 0.3, t.size)
>>> values[-100] += 4                                          # inside the daily range: no new extreme
>>> detector = CalibratedDetector(CalibratedDetector.Config())
>>> scores = detector.score_series(values, t).score
>>> bool(scores[-100] >= detector.config.threshold), int((scores[:-100] >= detector.config.threshold).sum())
(True, 0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from models.detectors.base import Detector, DetectorConfig, Scores, State
from models.detectors.likelihood import AnomalyLikelihood, LikelihoodConfig, tail_to_score

INNER = "inner."


class CalibratedConfig(DetectorConfig):
    threshold: float = Field(0.5, gt=0, lt=1, description="alarm at or above this (0.5: tail probability 1e-5)")
    detector: str = Field("seasonal", description="the registered detector whose score is calibrated")
    detector_config: dict[str, Any] = Field(default_factory=dict, description="that detector's config")
    likelihood: LikelihoodConfig = LikelihoodConfig()
    range_tolerance: float | None = Field(0.05, ge=0, description="new extremes beyond this share of the range "
                                                                  "score 1 (None: off)")
    rest: int = Field(0, ge=0, description="points after an alarm that cannot alarm again")


class CalibratedDetector(Detector):
    """A registered detector's score, through the anomaly likelihood, the range rule and a rest."""

    name = "calibrated"
    Config = CalibratedConfig

    def __init__(self, config: CalibratedConfig) -> None:
        super().__init__(config)
        from models.registry import build

        self.config: CalibratedConfig = config
        self.inner: Detector = build("detector", config.detector, config.detector_config)
        self.likelihood = AnomalyLikelihood(config.likelihood)

    def init_state(self, size: int) -> State:
        state = {INNER + key: value for key, value in self.inner.init_state(size).items()}
        state.update(self.likelihood.init_state(size))
        for key in ("range_low", "range_high", "range_seen", "rest_left"):
            state[key] = np.zeros(size)
        return state

    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        one = self._update_many(state, values[None], timestamps[None], active[None])
        return Scores(one.score[0], one.z_score[0])

    def _update_many(self, state: State, values: np.ndarray, timestamps: np.ndarray,
                     active: np.ndarray) -> Scores:
        from models.detectors.likelihood_kernel import range_breaks, rest_after_alarms

        c = self.config
        inner = {key.removeprefix(INNER): value for key, value in state.items() if key.startswith(INNER)}
        raw = self.inner.run(inner, values, timestamps, active)
        state.update({INNER + key: value for key, value in inner.items()})
        score = np.where(active, tail_to_score(self.likelihood.run(state, raw.score, values, active)), 0.0)
        if c.range_tolerance is not None:
            breaks = range_breaks(state["range_low"], state["range_high"], state["range_seen"], values, active,
                                  c.range_tolerance, c.likelihood.probation)
            score[breaks] = 1.0
        if c.rest:
            rest_after_alarms(state["rest_left"], score, active, c.threshold, c.rest, np.nextafter(c.threshold, 0))
        return Scores(score, np.where(active, raw.z_score, 0.0))
