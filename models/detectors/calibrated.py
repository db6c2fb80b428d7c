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

A member may judge the series at a coarser step (``resample_seconds``): it and its
likelihood see the means of time blocks, one step per block, and speak at the first point
after a block (no look-ahead). It is there for slow changes the point members miss, so
its alarm counts only if the series has not alarmed since the start of the block before:
a level shift alarms at the shift, not again when its block closes.

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

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.detectors.base import Detector, DetectorConfig, Scores, State, flag_wild, screen
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
    resample_seconds: int | None = Field(None, ge=60, description="judge the means of time blocks this long "
                                         "instead of points: the member and its likelihood step once per "
                                         "block, at the first point after it (None: every point)")
    likelihood: LikelihoodConfig | None = Field(None, description="this member's likelihood, counted in its "
                                                "own steps (blocks when resampled); None: the detector's")


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

    @model_validator(mode="after")
    def _first_member_scores_points(self) -> CalibratedConfig:
        if self.members[0].resample_seconds is not None:
            raise ValueError("the first member gives z_score and the range rule's deviation: it cannot be resampled")
        return self


class CalibratedDetector(Detector):
    """Member detectors' scores through the anomaly likelihood, the range rule and a rest."""

    name = "calibrated"
    Config = CalibratedConfig

    def __init__(self, config: CalibratedConfig) -> None:
        super().__init__(config)
        from models.registry import build

        self.config: CalibratedConfig = config
        self.members: list[Detector] = [build("detector", m.detector, m.config) for m in config.members]
        self.likelihoods = [AnomalyLikelihood((m.likelihood or config.likelihood).model_copy(
            update={"window": m.window})) for m in config.members]
        self._coarse = any(m.resample_seconds is not None for m in config.members)

    def init_state(self, size: int) -> State:
        state: State = {}
        for k, (member, likelihood) in enumerate(zip(self.members, self.likelihoods, strict=True)):
            state.update({f"m{k}.d.{key}": value for key, value in member.init_state(size).items()})
            state.update({f"m{k}.l.{key}": value for key, value in likelihood.init_state(size).items()})
            if self.config.members[k].resample_seconds is not None:
                state.update({f"m{k}.r.{key}": np.zeros(size) for key in ("block", "total", "count")})
                state.update({f"m{k}.r.{key}": np.ones(size) for key in ("low", "prior")})
        for key in ("range_low", "range_high", "range_seen", "range_first", "range_record", "rest_left"):
            state[key] = np.zeros(size)
        if self._coarse:
            state["last_alarm"] = np.full(size, NEVER)
        return state

    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        one = self._update_many(state, values[None], timestamps[None], active[None])
        return Scores(one.score[0], one.z_score[0])

    def _update_many(self, state: State, values: np.ndarray, timestamps: np.ndarray,
                     active: np.ndarray) -> Scores:
        judged = self._judge(state, values, timestamps, active)
        c = self.config
        carried: State = {key: np.ascontiguousarray(state[key], dtype=np.float64)
                          for key in ("rest_left", "last_alarm") if key in state}
        score = settle(judged, timestamps, active, c.threshold, c.rest, carried["rest_left"],
                       carried.get("last_alarm"))
        state.update(carried)
        return Scores(score, judged.z)

    def judge(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Judgement:
        """What the members say about ``(steps, series)`` points before alarms are settled (state in place).

        :func:`settle` with the model's threshold and rest turns it into exactly what
        :meth:`run` returns; the selection settles one judgement at many thresholds.
        """
        clean, learn, wild = screen(values, active)
        judged = self._judge(state, clean, np.asarray(timestamps, dtype=np.float64), learn)
        judged.z = flag_wild(Scores(np.zeros(values.shape), judged.z), values, wild).z_score
        judged.wild = wild
        return judged

    def _judge(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Judgement:
        from models.detectors.likelihood_kernel import range_breaks

        c = self.config
        tail = np.ones(values.shape)
        z = None
        for k, (member, likelihood) in enumerate(zip(self.members, self.likelihoods, strict=True)):
            spec = self.config.members[k]
            if spec.resample_seconds is None:
                raw = member.run(_part(state, f"m{k}.d."), values, timestamps, active)
                tail = np.minimum(tail, likelihood.run(_part(state, f"m{k}.l."), _signal(spec, raw), values,
                                                       timestamps, active))
                z = raw.z_score if z is None else z
        if z is None:  # the config's validator keeps the first member on points, so this is a broken config
            raise ValueError("calibrated: the first member must run on points (resample_seconds unset)")
        factor = len(self.members)
        points = np.where(active, tail_to_score(np.minimum(1.0, tail * factor)), 0.0)
        if c.range_tolerance is not None or c.spike_z is not None:
            breaks = range_breaks(state["range_low"], state["range_high"], state["range_seen"], state["range_first"],
                                  state["range_record"], values, timestamps, active, z,
                                  np.inf if c.range_tolerance is None else c.range_tolerance, c.likelihood.probation,
                                  c.likelihood.probation_seconds, c.range_min_z,
                                  np.inf if c.spike_z is None else c.spike_z)
            points[breaks] = 1.0
        coarse = np.zeros(values.shape)
        since = np.full(values.shape, NEVER)
        for k, spec in enumerate(self.config.members):
            if spec.resample_seconds is not None:
                tail, start = self._blocks_tail(k, float(spec.resample_seconds), state, values, timestamps, active)
                score = np.where(active, tail_to_score(np.minimum(1.0, tail * factor)), 0.0)
                since = np.where(score > coarse, start, since)
                coarse = np.maximum(coarse, score)
        return Judgement(points, coarse, since, np.where(active, z, 0.0))

    def _blocks_tail(self, k: int, width: float, state: State, values: np.ndarray, timestamps: np.ndarray,
                     active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Member ``k``'s tail, resampled into blocks of ``width`` seconds (1 except at the points
        that close a block) and, there, the start of the block before the closed one (unix seconds)."""
        from models.detectors.resample_kernel import close_blocks

        spec = self.config.members[k]
        keys = [f"m{k}.r.{key}" for key in ("block", "total", "count")]
        arrays = [np.ascontiguousarray(state[key], dtype=np.float64) for key in keys]
        closed, means, centres = close_blocks(arrays[0], arrays[1], arrays[2], values, timestamps, active, width)
        state.update(zip(keys, arrays, strict=True))
        tail, start = np.ones(values.shape), np.full(values.shape, NEVER)
        if not closed.any():
            return tail, start
        # The closed blocks of each series, packed into rows (a series closes at most a few per call).
        steps, series = np.nonzero(closed)
        rank = (np.cumsum(closed, axis=0) - 1)[steps, series]
        shape = (int(rank.max()) + 1, values.shape[1])
        block_values, block_times = np.zeros(shape), np.zeros(shape)
        block_active = np.zeros(shape, dtype=bool)
        block_values[rank, series] = means[steps, series]
        block_times[rank, series] = centres[steps, series]
        block_active[rank, series] = True
        raw = self.members[k].run(_part(state, f"m{k}.d."), block_values, block_times, block_active)
        tail[steps, series] = self.likelihoods[k].run(_part(state, f"m{k}.l."), _signal(spec, raw), block_values,
                                                      block_times, block_active)[rank, series]
        start[steps, series] = centres[steps, series] - 1.5 * width
        return tail, start


NEVER = -1e18  # "no alarm yet", as unix seconds (finite: state holds no inf)


@dataclass
class Judgement:
    """The members' say on ``(steps, series)`` points, before :func:`settle` makes alarms of it."""

    points: np.ndarray  # score of the point members, new extremes and spikes (1)
    coarse: np.ndarray  # score of the resampled members where a block closed (0 elsewhere)
    since: np.ndarray  # unix seconds: an alarm at or after this silences ``coarse`` at that point
    z: np.ndarray  # the first member's signed deviation
    wild: np.ndarray | None = None  # points beyond the base class's screen: they score 1 whatever the rest


def settle(judged: Judgement, timestamps: np.ndarray, active: np.ndarray, threshold: float, rest: int,
           rest_left: np.ndarray | None = None, last_alarm: np.ndarray | None = None) -> np.ndarray:
    """Scores with alarms settled: coarse scores silenced by recent alarms, then the rest.

    ``rest_left`` / ``last_alarm`` (one per series) carry on from earlier calls and are
    updated in place; None starts fresh (as the selection does for a whole series).
    """
    from models.detectors.likelihood_kernel import settle_alarms

    series = judged.points.shape[1]
    rest_left = np.zeros(series) if rest_left is None else rest_left
    last_alarm = np.full(series, NEVER) if last_alarm is None else last_alarm
    score = np.ascontiguousarray(judged.points, dtype=np.float64).copy()
    settle_alarms(rest_left, last_alarm, score, np.ascontiguousarray(judged.coarse, dtype=np.float64),
                  np.ascontiguousarray(judged.since, dtype=np.float64),
                  np.ascontiguousarray(timestamps, dtype=np.float64), np.ascontiguousarray(active, dtype=bool),
                  threshold, rest, np.nextafter(threshold, 0))
    if judged.wild is not None:
        score[judged.wild] = 1.0
    return score


def _signal(spec: Member, raw: Scores) -> np.ndarray:
    """What a member's likelihood judges: its score, its signed deviation or the deviation's size."""
    if spec.signal == "score":
        return raw.score
    if spec.signal == "z":
        return np.clip(raw.z_score, -spec.clip, spec.clip)
    return np.minimum(np.abs(raw.z_score), spec.clip)


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
