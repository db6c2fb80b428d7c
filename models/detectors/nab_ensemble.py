"""A streaming ensemble for NAB-style metrics: four robust deviations, record-calibrated, gated.

What it assumes. A series is a noisy level, possibly with a daily pattern, whose normal
behaviour includes whatever it has already done many times (spikes, bursts, daily swings).
An anomaly is behaviour *more extreme than anything recently seen*: a larger deviation, a
new level, a broken daily pattern, or a change in volatility. Anomalies are judged against
the series' own history, so heavy-tailed series (spiky AWS metrics) and smooth ones share one
configuration and one threshold.

How. Four deviations are kept with exponentially weighted (EW) running sums, O(1) per point:

1. ``level``: the point against a slow robust level (EW mean and mean absolute deviation,
   updated with clipped errors so an outlier barely moves them).
2. ``predict``: the point against a fast level (a one-step prediction), in units of its own
   typical error: catches sudden jumps in wandering series.
3. ``season``: the point against a per-time-of-day profile (``bins`` slots a day, each an EW
   mean and deviation updated only by points falling in that slot). Slots come from the
   timestamps, so any sampling rate works; a non-seasonal series simply gets a binned level.
4. ``volatility``: the log ratio of a fast to a slow EW mean of ``|x_t - x_(t-1)|``: more
   noise, denser spikes, or a flat line where there was movement.

Each deviation is calibrated by its *record*: a slowly decaying maximum of its own past
absolute values (never below ``record_floor``). ``r = |stat| / record`` is about 1 for
behaviour the series has shown before and well above 1 for something new; the weighted max
over the four, ``r``, maps to ``r^p / (1 + r^p)`` (continuous, never exactly 1).

A gate then keeps an alarm "first in a while": a score below ``gate_lambda`` times the
decayed maximum of recent scores is multiplied by ``gate_floor``. So after an alarm, only a
clearly stronger event alarms again until the memory decays (``gate_halflife``); NAB
counts only the earliest detection in a window and charges every detection outside one.

Cost: about 30 numpy operations over the series axis per step, plus one gather/scatter into
the (series x ``bins``) seasonal profile; no history buffer. Strictly causal: a score uses
the point and earlier ones only. The first ``warmup`` points of a series score 0.

Defaults were chosen on the 35-file NAB subset (standard profile, score ~58 at threshold
0.22); see the report that accompanied this file for split-half generalisation figures.

>>> import numpy as np
>>> detector = NabEnsembleDetector(NabEnsembleDetector.Config())
>>> stamps = np.arange(3000) * 300.0  # 5-minute samples, ~10 days
>>> rng = np.random.default_rng(0)
>>> values = 50 + 30 * np.sin(2 * np.pi * stamps / 86400) + rng.normal(0, 2, stamps.size)
>>> values[2500:] += 40  # a level shift
>>> scores = detector.score_series(values, stamps).score
>>> bool(scores[1000:2500].max() < detector.config.threshold <= scores[2500:2510].max())
True
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from models.detectors.base import Detector, DetectorConfig, Scores, State

DAY = 86400.0
MAD_TO_SIGMA = 1.2533  # mean absolute deviation -> standard deviation for a Gaussian


def _alpha(halflife: float) -> float:
    return 1.0 - 0.5 ** (1.0 / halflife)


class NabEnsembleConfig(DetectorConfig):
    threshold: float = Field(0.22, gt=0, lt=1, description="best single NAB threshold for these scores")
    slow_halflife: float = Field(2000.0, gt=1, description="points for the slow level's memory to halve")
    fast_halflife: float = Field(3.0, gt=0.5, description="points for the one-step prediction's memory to halve")
    vol_fast_halflife: float = Field(5.0, gt=0.5, description="short memory of |x_t - x_(t-1)|")
    vol_slow_halflife: float = Field(1000.0, gt=1, description="long memory of |x_t - x_(t-1)|")
    bins: int = Field(24, ge=1, le=1440, description="time-of-day slots of the seasonal profile")
    season_alpha: float = Field(0.05, gt=0, le=1, description="weight of a new day in its slot's profile")
    season_min_days: int = Field(3, ge=1, description="visits a slot needs before it is trusted")
    warmup: int = Field(100, ge=2, description="points before any score above 0")
    clip: float = Field(5.0, gt=1, description="errors beyond this many sigmas update the levels clipped")
    weights: tuple[float, float, float, float] = Field(
        (1.0, 0.5, 1.0, 1.0), description="weights of the level, predict, season and volatility deviations")
    record_halflife: float = Field(10000.0, gt=1, description="points for a deviation's record to halve")
    record_floor: float = Field(5.0, gt=0, description="a record is never below this (z units)")
    power: float = Field(4.0, gt=0, description="sharpness of record ratio -> score")
    gate_halflife: float = Field(1000.0, gt=1, description="points for the alarm memory to halve")
    gate_lambda: float = Field(1.6, ge=0, description="a score must beat this x the remembered peak")
    gate_floor: float = Field(0.4, ge=0, le=1, description="factor on scores that do not beat it")


class NabEnsembleDetector(Detector):
    """Level, prediction, seasonal and volatility deviations, each against its own record."""

    name = "nab_ensemble"
    Config = NabEnsembleConfig

    def __init__(self, config: NabEnsembleConfig) -> None:
        super().__init__(config)
        self.config: NabEnsembleConfig = config
        self._a_slow = _alpha(config.slow_halflife)
        self._a_fast = _alpha(config.fast_halflife)
        self._a_vfast = _alpha(config.vol_fast_halflife)
        self._a_vslow = _alpha(config.vol_slow_halflife)
        self._record_decay = 0.5 ** (1.0 / config.record_halflife)
        self._gate_decay = 0.5 ** (1.0 / config.gate_halflife)
        self._weights = np.asarray(config.weights, dtype=np.float64)

    def init_state(self, size: int) -> State:
        bins = self.config.bins
        state = {key: np.zeros(size) for key in (
            "seen", "prev", "lo", "hi", "level", "level_dev", "fast", "fast_dev", "vol_fast", "vol_slow", "peak")}
        state["record"] = np.zeros((size, 4))
        state["season_mean"] = np.zeros((size, bins))
        state["season_dev"] = np.zeros((size, bins))
        state["season_n"] = np.zeros((size, bins))
        return state

    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        c = self.config
        x = np.where(active, np.asarray(values, dtype=np.float64), 0.0)
        seen = state["seen"]
        first = active & (seen == 0)
        for key in ("prev", "level", "fast", "lo", "hi"):
            state[key][first] = x[first]
        lo = np.where(active, np.minimum(state["lo"], x), state["lo"])
        hi = np.where(active, np.maximum(state["hi"], x), state["hi"])
        state["lo"], state["hi"] = lo, hi
        floor = 1e-3 * (hi - lo) + 1e-9  # a scale floor for flat and integer-valued series
        level, level_dev = state["level"], state["level_dev"]
        fast, fast_dev = state["fast"], state["fast_dev"]
        vol_fast, vol_slow = state["vol_fast"], state["vol_slow"]

        # The four deviations, against the state before this point.
        sigma = np.maximum(level_dev * MAD_TO_SIGMA, floor)
        z_level = (x - level) / sigma
        sigma_fast = np.maximum(fast_dev * MAD_TO_SIGMA, floor)
        error = x - fast
        z_predict = error / sigma_fast
        rows = np.arange(x.size)
        slot = (np.mod(timestamps, DAY) * (c.bins / DAY)).astype(np.int64) % c.bins
        s_mean, s_dev = state["season_mean"][rows, slot], state["season_dev"][rows, slot]
        s_n = state["season_n"][rows, slot]
        z_season = np.where(s_n >= c.season_min_days, (x - s_mean) / np.maximum(s_dev * MAD_TO_SIGMA, floor), 0.0)
        step_size = np.abs(x - state["prev"])
        new_vol_fast = vol_fast + self._a_vfast * (step_size - vol_fast)
        z_vol = 3.0 * np.log((new_vol_fast + floor) / (vol_slow + floor))

        # Record calibration: each deviation against a slowly decaying maximum of its own past.
        ready = active & (seen >= c.warmup)
        stats = np.abs(np.stack([z_level, z_predict, z_season, z_vol], axis=1))
        stats = np.where(ready[:, None], stats, 0.0)
        record = state["record"]
        ratio = ((stats / np.maximum(record, c.record_floor)) * self._weights).max(axis=1) ** c.power
        raw = ratio / (1.0 + ratio)
        state["record"] = np.where(active[:, None], np.maximum(record * self._record_decay, stats), record)

        # Gate: only a score well above the recent peak keeps its full value.
        peak = state["peak"] * self._gate_decay
        score = raw * np.where(raw >= c.gate_lambda * peak, 1.0, c.gate_floor)
        state["peak"] = np.where(active, np.maximum(peak, raw), state["peak"])

        # Updates: plain running means until the exponential memory is longer than the history.
        a_slow = np.maximum(self._a_slow, 1.0 / (seen + 1.0))
        a_vslow = np.maximum(self._a_vslow, 1.0 / (seen + 1.0))
        warm = seen >= c.warmup
        limit = np.where(warm, c.clip * sigma, np.inf)
        clipped = np.clip(x - level, -limit, limit)
        new_level_dev = level_dev + a_slow * (np.abs(clipped) - level_dev)
        state["level"] = np.where(active, level + a_slow * clipped, level)
        state["level_dev"] = np.where(active, new_level_dev, level_dev)
        fast_limit = np.where(warm, c.clip * sigma_fast, np.inf)
        new_fast_dev = fast_dev + a_slow * (np.minimum(np.abs(error), fast_limit) - fast_dev)
        state["fast_dev"] = np.where(active, new_fast_dev, fast_dev)
        state["fast"] = np.where(active, fast + self._a_fast * error, fast)
        state["vol_fast"] = np.where(active, new_vol_fast, vol_fast)
        step_in = np.where(warm, np.minimum(step_size, 10.0 * vol_slow + floor), step_size)
        state["vol_slow"] = np.where(active, vol_slow + a_vslow * (step_in - vol_slow), vol_slow)
        on = np.nonzero(active)[0]
        a_season = np.maximum(c.season_alpha, 1.0 / (s_n + 1.0))
        new_mean = np.where(s_n == 0, x, s_mean + a_season * (x - s_mean))
        new_dev = np.where(s_n == 0, new_level_dev, s_dev + a_season * (np.abs(x - s_mean) - s_dev))
        state["season_mean"][on, slot[on]] = new_mean[on]
        state["season_dev"][on, slot[on]] = new_dev[on]
        state["season_n"][on, slot[on]] = s_n[on] + 1.0
        state["prev"] = np.where(active, x, state["prev"])
        seen += active

        return Scores(np.where(active, np.clip(score, 0.0, 1.0), 0.0), np.where(ready, z_level, 0.0))
