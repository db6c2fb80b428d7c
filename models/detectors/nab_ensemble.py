"""NAB ensemble v1 (work in progress)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from models.detectors.base import Detector, DetectorConfig, Scores, State

DAY = 86400.0


class NabEnsembleConfig(DetectorConfig):
    threshold: float = Field(0.9, gt=0, lt=1)
    slow_halflife: float = Field(500.0, gt=1)
    fast_halflife: float = Field(5.0, gt=0.5)
    diff_fast_halflife: float = Field(20.0, gt=1)
    diff_slow_halflife: float = Field(1000.0, gt=1)
    bins: int = Field(288, ge=1)
    season_alpha: float = Field(0.3, gt=0, le=1)
    season_min_days: int = Field(3, ge=1)
    warmup: int = Field(50, ge=2)
    clip: float = Field(5.0, gt=1)
    w_level: float = 1.0
    w_shift: float = 1.0
    w_season: float = 1.0
    w_vol: float = 1.0
    scale: float = Field(6.0, gt=0)
    quiet_halflife: float = Field(0.0, ge=0)
    record_halflife: float = Field(3000.0, gt=1)
    record_floor: float = Field(3.0, gt=0)
    power: float = Field(4.0, gt=0)
    calibrate: bool = True


class NabEnsembleDetector(Detector):
    name = "nab_ensemble"
    Config = NabEnsembleConfig

    def __init__(self, config: NabEnsembleConfig) -> None:
        super().__init__(config)
        self.config: NabEnsembleConfig = config
        c = config
        self._a_slow = 1.0 - 0.5 ** (1.0 / c.slow_halflife)
        self._a_fast = 1.0 - 0.5 ** (1.0 / c.fast_halflife)
        self._a_dfast = 1.0 - 0.5 ** (1.0 / c.diff_fast_halflife)
        self._a_dslow = 1.0 - 0.5 ** (1.0 / c.diff_slow_halflife)
        self._rec = 0.5 ** (1.0 / c.record_halflife)
        self._quiet = 0.5 ** (1.0 / c.quiet_halflife) if c.quiet_halflife > 0 else 0.0

    def init_state(self, size: int) -> State:
        z = lambda: np.zeros(size)  # noqa: E731
        b = self.config.bins
        return {
            "seen": z(), "prev": z(), "m_slow": z(), "d_slow": z(), "m_fast": z(),
            "dd_fast": z(), "dd_slow": z(), "lo": z(), "hi": z(), "peak": z(), "record": np.zeros((size, 4)),
            "s_mean": np.zeros((size, b)), "s_dev": np.zeros((size, b)), "s_n": np.zeros((size, b)),
        }

    def step(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        c = self.config
        x = np.asarray(values, dtype=np.float64)
        seen = state["seen"]
        first = active & (seen == 0)
        for key in ("prev", "m_slow", "m_fast", "lo", "hi"):
            state[key][first] = x[first]
        m_slow, d_slow, m_fast = state["m_slow"], state["d_slow"], state["m_fast"]
        dd_fast, dd_slow = state["dd_fast"], state["dd_slow"]
        lo, hi = state["lo"], state["hi"]
        np.minimum(lo, np.where(active, x, lo), out=lo)
        np.maximum(hi, np.where(active, x, hi), out=hi)
        floor = 1e-3 * (hi - lo) + 1e-9
        # global level
        sig = np.maximum(d_slow * 1.2533, floor)
        z_level = (x - m_slow) / sig
        # fast level vs slow
        m_fast_new = m_fast + self._a_fast * (x - m_fast)
        z_shift = (m_fast_new - m_slow) / sig
        # seasonal
        rows = np.arange(x.size)
        b = (np.mod(timestamps, DAY) * (c.bins / DAY)).astype(np.int64) % c.bins
        s_mean, s_dev, s_n = state["s_mean"], state["s_dev"], state["s_n"]
        sm, sd, sn = s_mean[rows, b], s_dev[rows, b], s_n[rows, b]
        s_sig = np.maximum(sd * 1.2533, floor)
        z_season = np.where(sn >= c.season_min_days, (x - sm) / s_sig, 0.0)
        # seasonal model better than global?
        better = np.clip(d_slow / np.maximum(sd, floor) - 1.0, 0.0, 1.0)
        z_season = z_season * better
        # volatility change
        dx = np.abs(x - state["prev"])
        ddf = dd_fast + self._a_dfast * (dx - dd_fast)
        vol = np.log((ddf + floor) / (dd_slow + floor))
        ready = active & (seen >= c.warmup)
        stats = np.stack([np.abs(z_level), np.abs(z_shift), np.abs(z_season), np.abs(vol) * 3.0], axis=1)
        stats = np.where(ready[:, None], stats, 0.0)
        weights = np.array([c.w_level, c.w_shift, c.w_season, c.w_vol])
        if c.calibrate:
            record = state["record"]
            rel = stats / np.maximum(record, c.record_floor)
            comb = (rel * weights).max(axis=1)
            new_rec = np.maximum(record * self._rec, stats)
            record[active] = new_rec[active]
            ratio = comb ** c.power
        else:
            comb = (stats * weights).max(axis=1)
            ratio = (comb / c.scale) ** c.power
        raw = ratio / (1.0 + ratio)
        if self._quiet > 0:
            peak = state["peak"]
            out = raw * (1.0 - peak)
            np.maximum(peak * self._quiet, out, out=peak)  # noqa
            state["peak"] = np.where(active, peak, state["peak"])
        else:
            out = raw
        # updates
        a = active
        cl = np.clip(x - m_slow, -c.clip * sig, c.clip * sig)
        m_slow[a] += self._a_slow * cl[a]
        d_slow[a] += self._a_slow * (np.abs(cl[a]) - d_slow[a])
        m_fast[a] = m_fast_new[a]
        dd_fast[a] = ddf[a]
        dd_slow[a] += self._a_dslow * (np.minimum(dx[a], 10 * dd_slow[a] + floor[a]) - dd_slow[a])
        ra, ba = rows[a], b[a]
        first_bin = sn[a] == 0
        new_mean = np.where(first_bin, x[a], sm[a] + c.season_alpha * (x[a] - sm[a]))
        new_dev = np.where(first_bin, d_slow[a], sd[a] + c.season_alpha * (np.abs(x[a] - sm[a]) - sd[a]))
        s_mean[ra, ba] = new_mean
        s_dev[ra, ba] = new_dev
        s_n[ra, ba] = sn[a] + 1
        state["prev"][a] = x[a]
        seen[a] += 1
        z = np.where(ready, z_level, 0.0)
        return Scores(np.where(active, np.clip(out, 0.0, 1.0), 0.0), z)
