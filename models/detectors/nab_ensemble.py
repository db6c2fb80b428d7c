"""NAB ensemble v2 (work in progress): statistics calibrated by their own histograms."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from models.detectors.base import Detector, DetectorConfig, Scores, State

DAY = 86400.0
NSTAT = 5


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
    weights: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)
    hist_bins: int = Field(64, ge=8)
    hist_range: float = Field(10.0, gt=0)
    hist_decay: float = Field(0.0, ge=0)
    prior: float = Field(1.0, gt=0)
    density_neighbors: float = Field(0.5, ge=0)
    scale: float = Field(8.0, gt=0)
    quiet_halflife: float = Field(0.0, ge=0)


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
        self._hdecay = 0.5 ** (1.0 / c.hist_decay) if c.hist_decay > 0 else 1.0
        self._quiet = 0.5 ** (1.0 / c.quiet_halflife) if c.quiet_halflife > 0 else 0.0
        self._w = np.array(c.weights)

    def init_state(self, size: int) -> State:
        z = lambda: np.zeros(size)  # noqa: E731
        b = self.config.bins
        return {
            "seen": z(), "prev": z(), "m_slow": z(), "d_slow": z(), "m_fast": z(),
            "dd_fast": z(), "dd_slow": z(), "lo": z(), "hi": z(), "peak": z(),
            "s_mean": np.zeros((size, b)), "s_dev": np.zeros((size, b)), "s_n": np.zeros((size, b)),
            "hist": np.zeros((size, NSTAT, self.config.hist_bins)), "hist_n": np.zeros((size, NSTAT)),
        }

    def _stats(self, state, x, timestamps, active):
        c = self.config
        seen = state["seen"]
        m_slow, d_slow, m_fast = state["m_slow"], state["d_slow"], state["m_fast"]
        dd_fast, dd_slow = state["dd_fast"], state["dd_slow"]
        lo, hi = state["lo"], state["hi"]
        np.minimum(lo, np.where(active, x, lo), out=lo)
        np.maximum(hi, np.where(active, x, hi), out=hi)
        floor = 1e-3 * (hi - lo) + 1e-9
        sig = np.maximum(d_slow * 1.2533, floor)
        z_level = (x - m_slow) / sig
        m_fast_new = m_fast + self._a_fast * (x - m_fast)
        z_shift = (m_fast_new - m_slow) / sig
        rows = np.arange(x.size)
        b = (np.mod(timestamps, DAY) * (c.bins / DAY)).astype(np.int64) % c.bins
        s_mean, s_dev, s_n = state["s_mean"], state["s_dev"], state["s_n"]
        sm, sd, sn = s_mean[rows, b], s_dev[rows, b], s_n[rows, b]
        s_sig = np.maximum(sd * 1.2533, floor)
        z_season = np.where(sn >= c.season_min_days, (x - sm) / s_sig, 0.0)
        dx = np.abs(x - state["prev"])
        ddf = dd_fast + self._a_dfast * (dx - dd_fast)
        vol = np.log((ddf + floor) / (dd_slow + floor)) * 3.0
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
        s_mean[ra, ba] = np.where(first_bin, x[a], sm[a] + c.season_alpha * (x[a] - sm[a]))
        s_dev[ra, ba] = np.where(first_bin, d_slow[a], sd[a] + c.season_alpha * (np.abs(x[a] - sm[a]) - sd[a]))
        s_n[ra, ba] = sn[a] + 1
        state["prev"][a] = x[a]
        # stats: signed, z-like
        return np.stack([z_level, z_shift, z_season, vol, z_level], axis=1), z_level

    def step(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        c = self.config
        x = np.asarray(values, dtype=np.float64)
        seen = state["seen"]
        first = active & (seen == 0)
        for key in ("prev", "m_slow", "m_fast", "lo", "hi"):
            state[key][first] = x[first]
        stats, z_level = self._stats(state, x, timestamps, active)
        ready = active & (seen >= c.warmup)
        # histogram calibration
        K = c.hist_bins
        q = np.sign(stats) * np.log1p(np.abs(stats))
        idx = np.clip(((q / c.hist_range + 1.0) * 0.5 * K).astype(np.int64), 0, K - 1)  # (n, S)
        hist, hist_n = state["hist"], state["hist_n"]
        cum = np.cumsum(hist, axis=2)  # counts <= bin
        n_idx = np.arange(x.size)[:, None]
        s_idx = np.arange(NSTAT)[None, :]
        le = cum[n_idx, s_idx, idx]
        ge = hist_n - le + hist[n_idx, s_idx, idx]
        tail = np.where(stats >= 0, ge, le)
        surprise = -np.log((tail + c.prior) / (hist_n + c.prior))
        # density (two-sided) for the last stat
        h = hist[n_idx, s_idx, idx]
        hm = hist[n_idx, s_idx, np.maximum(idx - 1, 0)]
        hp = hist[n_idx, s_idx, np.minimum(idx + 1, K - 1)]
        dens = h + c.density_neighbors * (hm + hp)
        surprise[:, 4] = -np.log((dens[:, 4] + c.prior) / (hist_n[:, 4] + c.prior))
        comb = (surprise * self._w).max(axis=1)
        comb = np.where(ready, comb, 0.0)
        # update histograms
        upd = active & (seen >= c.warmup // 2)
        if self._hdecay < 1.0:
            hist *= self._hdecay
            hist_n *= self._hdecay
        ra = np.nonzero(upd)[0]
        hist[ra[:, None], s_idx, idx[ra]] += 1.0
        hist_n[ra] += 1.0
        ratio = comb / c.scale
        raw = ratio / (1.0 + ratio)
        if self._quiet > 0:
            peak = state["peak"]
            out = raw * (1.0 - peak)
            newpeak = np.maximum(peak * self._quiet, out)
            peak[active] = newpeak[active]
        else:
            out = raw
        seen[active] += 1
        z = np.where(ready, z_level, 0.0)
        return Scores(np.where(active, np.clip(out, 0.0, 1.0), 0.0), z)
