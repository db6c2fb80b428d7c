"""ARTime: adaptive resonance theory over wavelet features of a downsampled series.

The method is Mark Hampton's ARTime (2021; ARTimeNAB.jl, the best published NAB
detector), rebuilt here in compiled numba over many series at once
(:mod:`models.detectors.artime_kernel`). What it assumes: normal behaviour is a set of
recurring *shapes* of the recent past. Each step:

1. Downsample by ``step`` = probation / (8 x 13) points (a window's mean, or its extreme
   when that stands out by 10 %), scale to [0, 1] by the value range, discretise to
   ``levels`` levels and snap values within ``chomp`` of a running median to it.
2. Features: the last ``window`` levels, min-max normalised and Haar-transformed, next to
   the raw levels.
3. A distributed-vigilance fuzzy ART (complement coding; match = feature similarity^3 x
   similarity of the newest level^2) learns categories of these features. A sample that no
   category matches above the lower vigilance is an anomaly candidate; it is reported
   (with a confidence from how far below the vigilances it fell) unless it falls inside a
   mask after the last anomaly or after new categories.
4. The vigilances adapt: the upper one to the mean match, the lower one toward the lowest
   recent match, and down when matches keep falling below the upper one.

The first ``probation`` points train only: the vigilance starts from a scratch ART trained
on them, most typical last. Scores are sparse: 0 except at rare anomalies, in (0, 1].

Differences from the original, each measured in BENCHMARKS.md: NAB hands every detector
the file's minimum and maximum before it starts (look-ahead); here ``value_range`` can be
given the same way to check the port, and by default the range is the running minimum and
maximum of what the series has shown. The category store holds ``capacity`` categories and
replaces the one used longest ago when full (the original grows without bound). ARTime
has no signed deviation: ``z_score`` is 0.

>>> import numpy as np
>>> t = np.arange(0, 20 * 86400, 300.0)
>>> values = 10 + 5 * np.sin(2 * np.pi * t / 86400) + np.random.default_rng(0).normal(0, 0.2, t.size)
>>> values[4000:4060] = 10                                     # five hours stuck at the daily mean
>>> scores = ArtimeDetector(ArtimeDetector.Config()).score_series(values, t).score
>>> bool(scores[4000:4070].max() > 0), int((scores[1000:4000] > 0).sum())
(True, 0)
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from models.detectors.base import Detector, DetectorConfig, Scores, State


class ArtimeConfig(DetectorConfig):
    threshold: float = Field(0.34, gt=0, lt=1, description="alarm at or above this score")
    probation: int = Field(750, ge=104, description="points that only train (NAB: min(15 % of the file, 750))")
    value_range: tuple[float, float] | None = Field(None, description="(min, max) known up front, as NAB hands "
                                                                      "them over; None: the running min and max")
    window: int = Field(8, ge=2, le=64, description="downsampled points in a feature window (a power of two)")
    windows_per_probation: int = Field(13, ge=1, description="feature windows the probation spans")
    levels: int = Field(80, ge=2, le=1000, description="discretisation levels of the [0, 1] range")
    chomp: float = Field(0.075, ge=0, description="levels this close to the running median snap to it")
    initial_rho: float = Field(0.8, gt=0, lt=1, description="vigilance of the scratch ART that sets the first one")
    range_padding: float | None = Field(None, ge=0, description="without value_range: None follows the running "
                                        "min and max; a number freezes them after the probation, padded by "
                                        "this share of the range (beyond: the end levels)")
    capacity: int = Field(256, ge=2, le=4096, description="categories kept per series")

    @model_validator(mode="after")
    def _power_of_two_window(self) -> ArtimeConfig:
        if self.window & (self.window - 1):
            raise ValueError("window must be a power of two (Haar transform)")
        return self


class ArtimeDetector(Detector):
    """Fuzzy ART over Haar features of a downsampled, discretised series (ARTime)."""

    name = "artime"
    Config = ArtimeConfig

    def __init__(self, config: ArtimeConfig) -> None:
        super().__init__(config)
        self.config: ArtimeConfig = config
        probation = config.probation - config.probation % 2
        self.step_points = max(1, probation // (config.window * config.windows_per_probation))
        self.trend = probation // self.step_points
        self.mask = int(config.window * 1.5)

    def init_state(self, size: int) -> State:
        from models.detectors.artime_kernel import SCALARS

        c = self.config
        dim = 2 * c.window
        return {
            "scalars": np.zeros((size, SCALARS)),
            "ds_ring": np.zeros((size, self.step_points)),
            "medbin": np.zeros((size, c.levels + 1)),
            "f_window": np.zeros((size, c.window)),
            "buffer": np.zeros((size, self.trend, dim)),
            "weights": np.zeros((size, c.capacity, 2 * dim)),
            "stamp": np.zeros((size, c.capacity)),
            "sims": np.ones((size, self.trend // 2 + 1)),
            "diffs": np.zeros((size, self.trend + 1)),
        }

    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        one = self._update_many(state, values[None], timestamps[None], active[None])
        return Scores(one.score[0], one.z_score[0])

    def _update_many(self, state: State, values: np.ndarray, timestamps: np.ndarray,
                     active: np.ndarray) -> Scores:
        from models.detectors.artime_kernel import artime_run

        c = self.config
        arrays = {key: np.ascontiguousarray(value, dtype=np.float64) for key, value in state.items()}
        low, high = c.value_range if c.value_range is not None else (0.0, 0.0)
        score = artime_run(arrays["scalars"], arrays["ds_ring"], arrays["medbin"], arrays["f_window"],
                           arrays["buffer"], arrays["weights"], arrays["stamp"], arrays["sims"], arrays["diffs"],
                           np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(active, dtype=bool),
                           self.step_points, self.trend, c.window, self.mask, c.levels, c.chomp, c.initial_rho,
                           float(low), float(high), c.value_range is not None,
                           c.probation if c.range_padding is not None else 0, c.range_padding or 0.0)
        state.update(arrays)
        return Scores(score, np.zeros(values.shape))
