"""The seasonal detector's update as a compiled loop over time, for many steps at once.

numpy pays ~1 µs per operation whatever the array size, so one step over a batch's few
series costs ~40 operations of overhead for a handful of points, and a batch of 200 points
per series pays it 200 times. This kernel walks each series through its steps in compiled
code instead. It is the same arithmetic, in the same order, as
:meth:`SeasonalDetector.step <models.detectors.seasonal.SeasonalDetector.step>`, which
stays the reference (a test holds the two to each other).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def seasonal_run(level: np.ndarray, spread: np.ndarray, seen: np.ndarray, offset: np.ndarray, visits: np.ndarray,
                 last_time: np.ndarray, run: np.ndarray, run_sum: np.ndarray, values: np.ndarray,
                 timestamps: np.ndarray, active: np.ndarray, period: float, slot_seconds: float, slots: int,
                 a_level: float, a_slot: float, a_spread: float, warmup: float, clip: float, timed: bool,
                 slot_rates: np.ndarray, relearn_after: int, relearn_z: float) -> np.ndarray:
    """Update the state in place over ``(steps, series)`` points; return each point's z."""
    steps, series = values.shape
    z = np.zeros((steps, series))
    for n in range(series):
        lvl, spr, count = level[n], spread[n], seen[n]
        for t in range(steps):
            if not active[t, n]:
                continue
            x = values[t, n]
            position = (timestamps[t, n] % period) / slot_seconds - 0.5
            first = math.floor(position)
            w = position - first
            slot = int(first) % slots
            after = (slot + 1) % slots
            off = (1 - w) * offset[n, slot] + w * offset[n, after]
            vis = visits[n, slot]
            if count == 0:
                lvl = x
            residual = x - (lvl + off)
            sigma = max(spr * 1.2533, 1e-9 + 1e-6 * abs(lvl))
            warm = count >= warmup
            limit = clip * sigma if warm else np.inf
            if warm:
                z[t, n] = residual / sigma
            clipped = min(max(residual, -limit), limit)
            rate = a_slot
            if timed:
                elapsed = min(max(timestamps[t, n] - last_time[n], 0.0), slot_seconds)
                last_time[n] = timestamps[t, n]
                rate = slot_rates[int(np.rint(elapsed))]
            learn = max(rate, 1.0 / (vis + 1.0)) * clipped
            offset[n, slot] += (1 - w) * learn
            offset[n, after] += w * learn
            moved = x - lvl - (off + learn)
            lvl = lvl + max(a_level, 1.0 / (count + 1.0)) * min(max(moved, -limit), limit)
            if relearn_after > 0:
                zz = z[t, n]
                side = 1.0 if zz >= relearn_z else (-1.0 if zz <= -relearn_z else 0.0)
                if side != 0.0 and np.sign(run[n]) == side:
                    run[n] += side
                    run_sum[n] += residual
                else:
                    run[n] = side
                    run_sum[n] = residual if side != 0.0 else 0.0
                if abs(run[n]) >= relearn_after:
                    lvl = lvl + run_sum[n] / abs(run[n])
                    run[n] = 0.0
                    run_sum[n] = 0.0
            visits[n, slot] = vis + (1 - w)
            visits[n, after] += w
            spr = spr + max(a_spread, 1.0 / (count + 1.0)) * (abs(clipped) - spr)
            count += 1
        level[n], spread[n], seen[n] = lvl, spr, count
    return z
