"""HTM's anomaly likelihood: any detector's raw score turned into a rare, calibrated alarm.

The method is Numenta's (Ahmad, Lavin, Purdy & Agha, "Unsupervised real-time anomaly
detection for streaming data", Neurocomputing 2017, section 3.3; NuPIC's
``anomaly_likelihood.py``): a raw score says how surprising one point is to a model, but
some series are always a little surprising and some never are. So each series keeps the
distribution of its own *averaged* raw score (a moving average over ``window`` points,
modelled as a Gaussian re-estimated every ``period`` points over the last ``blocks x
period`` points), and a point's likelihood is the Gaussian tail probability of its
averaged score on the side it falls (so each side contributes: a tail ``p`` is reached by
about ``2p`` of normal points): how often this series has been this surprised. Only the first of
consecutive "red" points (tail at most ``red``) stays red; the ones after it are reported
at ``yellow`` (NuPIC's filter), so one event alarms once.

Kept from the original: the learning period (raw scores before it are not used, the
model was still learning), the probation (tail 0.5 until ``probation`` points), the floors
on the mean (0.03) and variance (0.0003) of the averaged score, and the flat-metric rule
(a series whose values vary less than ``flat_variance`` is never surprising). Changed,
to keep state small and fixed per series: the history is held as sums over blocks of
``period`` points rather than the 8,640 raw records (the same estimate, except that the
window slides in whole blocks), and the moving average runs continuously rather than
restarting at each re-estimation.

:func:`tail_to_score` maps a tail probability ``p`` to ``-log10(p) / 10`` in [0, 1]
(NuPIC's log-likelihood, which NAB's HTM detector reports): each +0.1 of score is ten times
rarer, so a 0.99 is 10^0.9 = 7.9 times rarer than a 0.9 under the model (measured on
Gaussian scores in ``tests/models/test_likelihood.py``).

>>> import numpy as np
>>> raw = np.abs(np.random.default_rng(0).normal(0, 0.1, (2000, 1)))
>>> raw[1500:1510] = 1.0                                      # ten surprising points in a row
>>> likelihood = AnomalyLikelihood(LikelihoodConfig())
>>> points = np.arange(2000.0)[:, None]
>>> tail = likelihood.run(likelihood.init_state(1), raw, points, points * 300, np.ones_like(raw, dtype=bool))
>>> score = tail_to_score(tail[:, 0])
>>> bool(score[1500:1510].max() > 0.5), bool(score[700:1500].max() < 0.5)
(True, True)
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.detectors.base import State

RED = 1e-5  # NuPIC's redThreshold 0.99999, as a tail probability
YELLOW = 1e-3  # NuPIC's yellowThreshold 0.999


class LikelihoodConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    learning: int = Field(300, ge=0, description="raw scores left out of the distribution (the model is learning)")
    probation: int = Field(600, ge=1, description="points before the first likelihood (tail 0.5 until then)")
    probation_seconds: float = Field(86400.0, ge=0, description="and at least this long (a seasonal model has "
                                                                "seen its cycle once); half of it for learning")
    window: int = Field(10, ge=1, le=1000, description="points in the moving average of the raw score")
    period: int = Field(100, ge=1, description="points between re-estimates of the distribution")
    blocks: int = Field(86, ge=1, le=1000, description="history for the estimate, in periods (86 x 100 ~ NuPIC's 8640)")
    min_mean: float = Field(0.03, ge=0, description="floor on the averaged score's mean")
    min_variance: float = Field(0.0003, gt=0, description="floor on the averaged score's variance")
    flat_variance: float = Field(1.5e-5, ge=0, description="a metric varying less than this is never surprising")

    @model_validator(mode="after")
    def _probation_covers_learning(self) -> LikelihoodConfig:
        if self.probation <= self.learning:
            raise ValueError("probation must be longer than the learning period")
        return self


class AnomalyLikelihood:
    """Raw scores in, tail probabilities out; state is a dict of arrays, one row per series."""

    def __init__(self, config: LikelihoodConfig) -> None:
        self.config = config

    def init_state(self, size: int) -> State:
        c = self.config
        state = {key: np.zeros(size) for key in ("lk_seen", "lk_total", "lk_origin", "lk_mean", "lk_stdev",
                                                 "lk_first")}
        state["lk_previous"] = np.ones(size)
        state["lk_recent"] = np.zeros((size, c.window))
        for key in ("lk_n", "lk_sum", "lk_sq", "lk_vsum", "lk_vsq"):
            state[key] = np.zeros((size, c.blocks))
        return state

    def run(self, state: State, raw: np.ndarray, values: np.ndarray, timestamps: np.ndarray,
            active: np.ndarray) -> np.ndarray:
        """Tail probabilities (``(steps, series)``, 0.5 where inactive or in probation); state in place."""
        from models.detectors.likelihood_kernel import likelihood_run

        c = self.config
        arrays = {key: np.ascontiguousarray(value, dtype=np.float64) for key, value in state.items()
                  if key.startswith("lk_")}
        tail = likelihood_run(
            arrays["lk_seen"], arrays["lk_recent"], arrays["lk_total"], arrays["lk_n"], arrays["lk_sum"],
            arrays["lk_sq"], arrays["lk_vsum"], arrays["lk_vsq"], arrays["lk_origin"], arrays["lk_mean"],
            arrays["lk_stdev"], arrays["lk_previous"], arrays["lk_first"], np.ascontiguousarray(raw, dtype=np.float64),
            np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(timestamps, dtype=np.float64),
            np.ascontiguousarray(active, dtype=bool), c.learning, c.probation, c.probation_seconds / 2,
            c.probation_seconds, c.period, c.min_mean, c.min_variance, c.flat_variance, RED, YELLOW)
        state.update(arrays)
        return tail


def tail_to_score(tail: np.ndarray) -> np.ndarray:
    """Tail probability -> ``-log10(tail) / 10`` in [0, 1]: +0.1 of score is ten times rarer."""
    return np.clip(-np.log10(np.maximum(tail, 1e-10)) / 10.0, 0.0, 1.0)


def score_to_tail(score: np.ndarray | float) -> np.ndarray:
    """The inverse of :func:`tail_to_score`: the tail probability a score stands for."""
    return 10.0 ** (-10.0 * np.asarray(score, dtype=np.float64))
