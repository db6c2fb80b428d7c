"""The ``Detector`` interface: vectorised, strictly streaming anomaly scoring.

A detector keeps its whole state in a dict of numpy arrays with one row per series, so
state pickles, checkpoints and grows (new series) without the detector's help, and one
``step`` scores one new point of every series at once. A higher score means more
anomalous; scores are calibrated to [0, 1] and comparable across series and models. The
score of a point may use that point and earlier ones only.

Bad numbers are screened here, once, for every model: a NaN (Prometheus' staleness
marker, a failed scrape) is a missing point (state untouched, score 0); ±inf or a finite
value beyond ``WILD`` in magnitude (1e300, an overflowed counter) is flagged as an anomaly
(score 1, ``z_score`` ±``WILD_Z``) without reaching the model's state, so no later score
turns NaN.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

State = dict[str, np.ndarray]

WILD = 1e100  # beyond this magnitude a value is not a measurement to learn from
WILD_Z = 1e9  # the z_score reported for such a value (finite, signed)


class DetectorConfig(BaseModel):
    """What every detector is configured with; models add their own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(0.9, gt=0, lt=1, description="a score at or above this is an anomaly")


@dataclass
class Scores:
    score: np.ndarray  # float64 in [0, 1], one per series
    z_score: np.ndarray  # float64, signed deviation in robust standard deviations


class Detector(ABC):
    """Scores each series' newest point against its own past."""

    name: str
    Config: type[DetectorConfig] = DetectorConfig

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    @abstractmethod
    def init_state(self, size: int) -> State:
        """Fresh state for ``size`` series (every array has ``size`` rows)."""

    @abstractmethod
    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        """One step on screened input: every active value is finite and within ``WILD``."""

    def _update_many(self, state: State, values: np.ndarray, timestamps: np.ndarray,
                     active: np.ndarray) -> Scores:
        """Many steps on screened input; a model with a compiled loop over time overrides this."""
        score, z = np.zeros(values.shape), np.zeros(values.shape)
        for t in range(values.shape[0]):
            result = self._update(state, values[t], timestamps[t], active[t])
            score[t], z[t] = result.score, result.z_score
        return Scores(score, z)

    def step(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        """Update with one point per series (``timestamps`` in unix seconds) and score it.

        Only rows where ``active`` is true take a point; the others keep their state and
        score 0.
        """
        clean, learn, wild = screen(values, active)
        return flag_wild(self._update(state, clean, np.asarray(timestamps, dtype=np.float64), learn), values, wild)

    def run(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        """Many steps at once: ``(steps, series)`` arrays, row ``t`` being step ``t``.

        Exactly ``steps`` calls of :meth:`step`, whichever way the model computes them.
        """
        clean, learn, wild = screen(values, active)
        return flag_wild(self._update_many(state, clean, np.asarray(timestamps, dtype=np.float64), learn),
                         values, wild)

    def is_anomaly(self, scores: Scores) -> np.ndarray:
        return scores.score >= self.config.threshold

    def grow(self, state: State, size: int) -> State:
        """The same state with room for ``size`` series; new rows start fresh."""
        current = next(iter(state.values())).shape[0] if state else 0
        if size <= current:
            return state
        fresh = self.init_state(size - current)
        return {key: np.concatenate([state[key], fresh[key]]) for key in state}

    def score_series(self, values: np.ndarray, timestamps: np.ndarray) -> Scores:
        """One whole series, point by point, exactly as streaming would see it."""
        column = (values.size, 1)
        result = self.run(self.init_state(1), np.asarray(values, dtype=np.float64).reshape(column),
                          np.asarray(timestamps, dtype=np.float64).reshape(column), np.ones(column, dtype=bool))
        return Scores(result.score[:, 0], result.z_score[:, 0])


def screen(values: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values with bad ones zeroed, the points a model may learn from, the wild ones)."""
    values = np.asarray(values, dtype=np.float64)
    active = np.asarray(active, dtype=bool)
    finite = np.abs(values) <= WILD  # false for NaN and ±inf too
    if finite.all():
        return values, active, np.zeros(values.shape, dtype=bool)
    wild = active & ~finite & ~np.isnan(values)
    return np.where(finite, values, 0.0), active & finite, wild


def flag_wild(scores: Scores, values: np.ndarray, wild: np.ndarray) -> Scores:
    if wild.any():
        scores.score[wild] = 1.0
        scores.z_score[wild] = np.copysign(WILD_Z, values[wild])
    return scores
