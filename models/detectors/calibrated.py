"""Detectors' raw scores made one rare, calibrated alarm: HTM's anomaly likelihood around each.

What it assumes: each member detector's score rises when a point surprises it, and what
matters is not how large that score is but how unusual it is *for this series* (a spiky
series is always a little surprising, a smooth one never). Each member's score goes
through its own :class:`~models.detectors.likelihood.AnomalyLikelihood` (the tail
probability of its moving average over ``window`` points, against the series' own
history); the point's tail is the smallest, times the number of members (Bonferroni, so
the stated rarity stays an upper bound), reported as ``-log10(tail) / 10``. So each +0.1
of ``anomaly_score`` is ten times rarer: a 0.99 is 10^0.9 = 7.9 times rarer than a 0.9,
and under the members' Gaussian models normal behaviour reaches a score ``s`` about once in
10^(10 s) points on each side of the mean.
``z_score`` is the first member's (the seasonal residual in robust deviations).

Two rules from NAB's detectors complete it. A value outside every value the series has
shown, widened by ``range_tolerance`` of that range, scores 1 (NAB's HTM detector: people
call new extremes anomalous). After an alarm the next ``rest`` points score just below
the threshold (CAD OSE's rest period): one event, one alarm, and a level shift is one
episode while the members re-learn.

>>> import numpy as np
>>> t = np.arange(0, 14 * 86400, 300.0)
>>> values = 10 + 5 * np.sin(2 * np.pi * t / 86400) + np.random.default_rng(0).normal(0, 0.3, t.size)
>>> values[-100:] += 3                                          # a level shift inside the daily range
>>> seasonal = Member(detector="seasonal", signal="z", config={"slot_halflife_cycles": 2, "relearn_after": 10})
>>> detector = CalibratedDetector(CalibratedConfig(members=[seasonal], rest=50))
>>> alarms = detector.score_series(values, t).score >= detector.config.threshold
>>> int(alarms[:-100].sum()), np.flatnonzero(alarms[-100:]).tolist()  # none before; once, a point after
(0, [1])
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.detectors.base import Detector, DetectorConfig, Scores, State
from models.detectors.likelihood import AnomalyLikelihood, LikelihoodConfig, tail_to_score


class Member(BaseModel):
    """One detector in the ensemble and the averaging window of its likelihood."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: str = Field(description="a registered detector's name")
    config: dict[str, Any] = Field(default_factory=dict, description="its config (its defaults if empty)")
    window: int = Field(10, ge=1, le=1000, description="points its raw score is averaged over (1: sparse scores)")
    signal: Literal["score", "z", "abs_z"] = Field("score", description="what the likelihood judges: the member's "
                                                                        "score, its signed deviation or its size")
    clip: float = Field(1e6, gt=0, description="deviations count at most this many sigmas")


class CalibratedConfig(DetectorConfig):
    threshold: float = Field(0.5, gt=0, lt=1, description="alarm at or above this (0.5: tail probability 1e-5)")
    members: tuple[Member, ...] = Field((Member(detector="seasonal"),), min_length=1,
                                        description="the detectors whose calibrated scores compete")
    likelihood: LikelihoodConfig = LikelihoodConfig()
    range_tolerance: float | None = Field(0.05, ge=0, description="new extremes beyond this share of the range "
                                                                  "score 1 (None: off)")
    range_min_z: float = Field(0.0, ge=0, description="a new extreme counts only this many deviations off the "
                                                       "first member's expectation")
    spike_z: float | None = Field(None, gt=0, description="a point this many deviations off the first member's "
                                                          "expectation scores 1 (None: off)")
    rest: int = Field(0, ge=0, description="points after an alarm that cannot alarm again")


class CalibratedDetector(Detector):
    """Member detectors' scores through the anomaly likelihood, the range rule and a rest."""

    name = "calibrated"
    Config = CalibratedConfig

    def __init__(self, config: CalibratedConfig) -> None:
        super().__init__(config)
        from models.registry import build

        self.config: CalibratedConfig = config
        self.members: list[Detector] = [build("detector", m.detector, m.config) for m in config.members]
        self.likelihoods = [AnomalyLikelihood(config.likelihood.model_copy(update={"window": m.window}))
                            for m in config.members]

    def init_state(self, size: int) -> State:
        state: State = {}
        for k, (member, likelihood) in enumerate(zip(self.members, self.likelihoods, strict=True)):
            state.update({f"m{k}.d.{key}": value for key, value in member.init_state(size).items()})
            state.update({f"m{k}.l.{key}": value for key, value in likelihood.init_state(size).items()})
        for key in ("range_low", "range_high", "range_seen", "range_first", "range_record", "rest_left"):
            state[key] = np.zeros(size)
        return state

    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        one = self._update_many(state, values[None], timestamps[None], active[None])
        return Scores(one.score[0], one.z_score[0])

    def _update_many(self, state: State, values: np.ndarray, timestamps: np.ndarray,
                     active: np.ndarray) -> Scores:
        from models.detectors.likelihood_kernel import range_breaks, rest_after_alarms

        c = self.config
        tail = np.ones(values.shape)
        z = None
        for k, (member, likelihood) in enumerate(zip(self.members, self.likelihoods, strict=True)):
            raw = member.run(_part(state, f"m{k}.d."), values, timestamps, active)
            spec = self.config.members[k]
            signal = {"score": raw.score, "z": np.clip(raw.z_score, -spec.clip, spec.clip),
                      "abs_z": np.minimum(np.abs(raw.z_score), spec.clip)}[spec.signal]
            tail = np.minimum(tail, likelihood.run(_part(state, f"m{k}.l."), signal, values, timestamps, active))
            z = raw.z_score if z is None else z
        score = np.where(active, tail_to_score(np.minimum(1.0, tail * len(self.members))), 0.0)
        if c.range_tolerance is not None or c.spike_z is not None:
            breaks = range_breaks(state["range_low"], state["range_high"], state["range_seen"], state["range_first"],
                                  state["range_record"], values, timestamps, active, z,
                                  np.inf if c.range_tolerance is None else c.range_tolerance, c.likelihood.probation,
                                  c.likelihood.probation_seconds, c.range_min_z,
                                  np.inf if c.spike_z is None else c.spike_z)
            score[breaks] = 1.0
        if c.rest:
            rest_after_alarms(state["rest_left"], score, active, c.threshold, c.rest, np.nextafter(c.threshold, 0))
        return Scores(score, np.where(active, z, 0.0))


class _part(dict):
    """The keys of ``state`` under ``prefix``, without it; writes go back to ``state``."""

    def __init__(self, state: State, prefix: str) -> None:
        super().__init__((key.removeprefix(prefix), value) for key, value in state.items() if key.startswith(prefix))
        self._state, self._prefix = state, prefix

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        super().__setitem__(key, value)
        self._state[self._prefix + key] = value

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
