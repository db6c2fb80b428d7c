"""Robust statistics with daily and weekly seasonality: fast, explainable, the workhorse.

Assumes a series is a slowly moving level plus a repeating daily (and optionally weekly)
profile plus noise. It keeps, per series, an exponentially weighted level and absolute
deviation, and per time-of-day (x day-of-week) slot an exponentially weighted offset from
the level. The expected value of a point is level + its slot's offset; the score measures
how many typical deviations away it is. Points far off update the statistics clipped, so
an incident does not teach the model that incidents are normal. Slots are found from the
timestamp, so gaps and irregular sampling need no special care.

>>> import numpy as np
>>> t = np.arange(0, 14 * 86400, 300.0)                        # two weeks, 5-minute points
>>> daily = 10 + 5 * np.sin(2 * np.pi * t / 86400)
>>> values = daily + np.random.default_rng(0).normal(0, 0.3, t.size)
>>> values[-100] += 6                                         # a spike smaller than the daily swing
>>> scores = SeasonalDetector(SeasonalDetector.Config()).score_series(values, t).score
>>> bool(scores[-100] >= 0.9), bool((scores[2000:-100] >= 0.9).sum() <= 2)
(True, True)
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from models.detectors.base import Detector, DetectorConfig, Scores, State
from models.detectors.ewma import z_to_score


class SeasonalConfig(DetectorConfig):
    slot_seconds: int = Field(1800, ge=60, description="width of a time-of-day slot")
    weekly: bool = Field(False, description="separate slots per day of week (needs weeks of history)")
    level_halflife: float = Field(300.0, gt=1, description="points for the level to forget half")
    slot_halflife: float = Field(4.0, gt=0.5, description="visits for a slot's offset to forget half")
    slot_halflife_cycles: float | None = Field(
        None, gt=0, description="if set, a slot's offset forgets half in this many days (weeks if weekly) "
                                "whatever the sampling rate, instead of slot_halflife points")
    relearn_after: int = Field(0, ge=0, description="after this many points in a row beyond relearn_z on one "
                                                    "side, the level jumps to them (0: never)")
    relearn_z: float = Field(3.0, gt=0, description="deviations that count toward relearn_after")
    spread_halflife: float = Field(100.0, gt=1, description="points for the deviation to forget half")
    warmup: int = Field(100, ge=2, description="points before any score above 0")
    clip: float = Field(5.0, gt=1, description="deviations beyond this many sigmas update clipped")
    score_scale: float = Field(3.0, gt=0, description="sigmas that score 0.5 (three times this: 0.9)")


class SeasonalDetector(Detector):
    """Level + time-of-day (x day-of-week) offset; robust z-score of the residual."""

    name = "seasonal"
    Config = SeasonalConfig

    def __init__(self, config: SeasonalConfig) -> None:
        super().__init__(config)
        self.config: SeasonalConfig = config
        self._slots = (86400 // config.slot_seconds) * (7 if config.weekly else 1)
        self._a_level = 1.0 - 0.5 ** (1.0 / config.level_halflife)
        self._a_slot = 1.0 - 0.5 ** (1.0 / config.slot_halflife)
        self._a_spread = 1.0 - 0.5 ** (1.0 / config.spread_halflife)
        # The offset's rate per point for each whole second a point stands for (a table, so the
        # compiled loop and this reference compute bit-identical rates).
        cycles = config.slot_halflife_cycles or 1.0
        self._slot_rates = 1.0 - 0.5 ** (np.arange(config.slot_seconds + 1.0) / (config.slot_seconds * cycles))

    def init_state(self, size: int) -> State:
        state = {
            "level": np.zeros(size),
            "spread": np.zeros(size),
            "seen": np.zeros(size),
            "offset": np.zeros((size, self._slots)),
            "visits": np.zeros((size, self._slots)),
        }
        # Only the options that need them add arrays: checkpoints of the plain model stay valid.
        if self.config.slot_halflife_cycles is not None:
            state["last_time"] = np.zeros(size)
        if self.config.relearn_after:
            state["run"] = np.zeros(size)
            state["run_sum"] = np.zeros(size)
        return state

    def _slot_rate(self, state: State, rows: np.ndarray, timestamps: np.ndarray) -> np.ndarray | float:
        """The offset's learning rate per point: fixed, or from the time the point stands for."""
        cycles = self.config.slot_halflife_cycles
        if cycles is None:
            return self._a_slot
        elapsed = np.clip(timestamps - state["last_time"][rows], 0.0, self.config.slot_seconds)
        state["last_time"][rows] = timestamps
        return self._slot_rates[np.rint(elapsed).astype(np.int64)]

    def _slots_of(self, timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The two slots around each timestamp (slot centres) and the weight of the second."""
        period = 7 * 86400 if self.config.weekly else 86400
        position = (timestamps % period) / self.config.slot_seconds - 0.5
        first = np.floor(position)
        weight = position - first
        first = first.astype(np.int64) % self._slots
        return first, (first + 1) % self._slots, weight

    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        rows = np.flatnonzero(active)
        if rows.size == 0:
            zeros = np.zeros(values.shape[0])
            return Scores(zeros, zeros.copy())
        x = values[rows]
        slot, after, w = self._slots_of(timestamps[rows])
        level, spread, seen = state["level"][rows], state["spread"][rows], state["seen"][rows]
        # The expected offset interpolates between neighbouring slots: smooth days stay smooth.
        offset = (1 - w) * state["offset"][rows, slot] + w * state["offset"][rows, after]
        visits = state["visits"][rows, slot]
        level = np.where(seen == 0, x, level)
        expected = level + offset
        residual = x - expected
        sigma = np.maximum(spread * 1.2533, 1e-9 + 1e-6 * np.abs(level))
        warm = seen >= self.config.warmup
        z_rows = np.where(warm, residual / sigma, 0.0)

        limit = np.where(warm, self.config.clip * sigma, np.inf)
        clipped = np.clip(residual, -limit, limit)
        a_level = np.maximum(self._a_level, 1.0 / (seen + 1.0))
        a_slot = np.maximum(self._slot_rate(state, rows, timestamps[rows]), 1.0 / (visits + 1.0))
        a_spread = np.maximum(self._a_spread, 1.0 / (seen + 1.0))
        # The slot's offset learns the residual from the level; the level learns what the
        # slot does not explain; the spread learns the remaining residual's size.
        learn = a_slot * clipped
        state["offset"][rows, slot] += (1 - w) * learn
        state["offset"][rows, after] += w * learn
        new_offset = offset + learn
        new_level = level + a_level * (x - level - new_offset).clip(-np.abs(limit), np.abs(limit))
        if self.config.relearn_after:
            new_level = self._relearn(state, rows, new_level, residual, z_rows)
        state["level"][rows] = new_level
        state["visits"][rows, slot] = visits + (1 - w)
        state["visits"][rows, after] += w
        state["spread"][rows] = spread + a_spread * (np.abs(clipped) - spread)
        state["seen"][rows] = seen + 1

        z = np.zeros(values.shape[0])
        z[rows] = z_rows
        score = np.zeros(values.shape[0])
        score[rows] = z_to_score(z_rows, self.config.score_scale)
        return Scores(score, z)

    def _relearn(self, state: State, rows: np.ndarray, level: np.ndarray, residual: np.ndarray,
                 z: np.ndarray) -> np.ndarray:
        """A run of ``relearn_after`` far points on one side moves the level to them at once."""
        run, run_sum = state["run"][rows], state["run_sum"][rows]
        side = np.where(z >= self.config.relearn_z, 1.0, np.where(z <= -self.config.relearn_z, -1.0, 0.0))
        same = (side != 0) & (np.sign(run) == side)
        run = np.where(same, run + side, side)
        run_sum = np.where(same, run_sum + residual, np.where(side != 0, residual, 0.0))
        done = np.abs(run) >= self.config.relearn_after
        level = np.where(done, level + run_sum / np.maximum(np.abs(run), 1.0), level)
        state["run"][rows] = np.where(done, 0.0, run)
        state["run_sum"][rows] = np.where(done, 0.0, run_sum)
        return level

    def _update_many(self, state: State, values: np.ndarray, timestamps: np.ndarray,
                     active: np.ndarray) -> Scores:
        """Many steps in one compiled pass (see :mod:`models.detectors.seasonal_kernel`)."""
        # Imported here: numba costs ~120 MiB per process, and only the watchdog needs it
        # (the API builds detectors to validate configs, never to run them).
        from models.detectors.seasonal_kernel import seasonal_run

        arrays = {key: np.ascontiguousarray(state[key], dtype=np.float64) for key in state}
        config = self.config
        none = np.zeros(values.shape[1])
        z = seasonal_run(arrays["level"], arrays["spread"], arrays["seen"], arrays["offset"], arrays["visits"],
                         arrays.get("last_time", none), arrays.get("run", none), arrays.get("run_sum", none),
                         np.ascontiguousarray(values, dtype=np.float64),
                         np.ascontiguousarray(timestamps, dtype=np.float64), np.ascontiguousarray(active, dtype=bool),
                         float(7 * 86400 if config.weekly else 86400), float(config.slot_seconds), self._slots,
                         self._a_level, self._a_slot, self._a_spread, float(config.warmup), config.clip,
                         config.slot_halflife_cycles is not None, self._slot_rates, config.relearn_after,
                         config.relearn_z)
        state.update(arrays)
        return Scores(np.where(active, z_to_score(z, config.score_scale), 0.0), z)
