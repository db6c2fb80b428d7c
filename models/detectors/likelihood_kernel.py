"""The anomaly likelihood's update as a compiled loop over time, for many steps at once.

Walks each series through its steps in compiled code (numpy's per-call overhead would
dominate a step over a few series); :class:`~models.detectors.likelihood.AnomalyLikelihood`
describes the method and owns the state.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def likelihood_run(seen: np.ndarray, recent: np.ndarray, total: np.ndarray, block_n: np.ndarray,
                   block_sum: np.ndarray, block_sq: np.ndarray, block_vsum: np.ndarray, block_vsq: np.ndarray,
                   origin: np.ndarray, mean: np.ndarray, stdev: np.ndarray, previous: np.ndarray,
                   first: np.ndarray, raw: np.ndarray, values: np.ndarray, timestamps: np.ndarray,
                   active: np.ndarray, learning: int, probation: int, learning_seconds: float,
                   probation_seconds: float, period: int, min_mean: float, min_variance: float,
                   flat_variance: float, red: float, yellow: float) -> np.ndarray:
    """Update the state in place over ``(steps, series)`` raw scores; return each point's tail probability.

    ``recent`` holds the last ``window`` raw scores (a ring indexed by ``seen``); blocks of
    ``period`` points keep sums of averaged scores and of values (relative to ``origin``)
    for the re-estimation; ``previous`` is the last unfiltered tail probability.
    """
    steps, series = raw.shape
    window = recent.shape[1]
    blocks = block_n.shape[1]
    tail_out = np.full((steps, series), 0.5)
    for n in range(series):
        count = int(seen[n])
        for t in range(steps):
            if not active[t, n]:
                continue
            score = raw[t, n]
            value = values[t, n]
            if count == 0:
                origin[n] = value
                first[n] = timestamps[t, n]
            age = timestamps[t, n] - first[n]
            slot = count % window
            total[n] += score - recent[n, slot]
            recent[n, slot] = score
            average = total[n] / min(count + 1, window)
            if count >= probation and age >= probation_seconds:
                if count % period == 0 or stdev[n] == 0.0:
                    # Re-estimate from the last ``blocks`` full blocks (the current one is empty).
                    k = 0.0
                    s = 0.0
                    q = 0.0
                    vs = 0.0
                    vq = 0.0
                    for b in range(blocks):
                        k += block_n[n, b]
                        s += block_sum[n, b]
                        q += block_sq[n, b]
                        vs += block_vsum[n, b]
                        vq += block_vsq[n, b]
                    if k > 0:
                        mu = s / k
                        variance = max(q / k - mu * mu, 0.0)
                        value_variance = max(vq / k - (vs / k) ** 2, 0.0)
                        if value_variance < flat_variance:
                            # A flat metric: nothing it does is surprising (HTM's rule).
                            mean[n], stdev[n] = 0.5, 1e3
                        else:
                            mean[n] = max(mu, min_mean)
                            stdev[n] = math.sqrt(max(variance, min_variance))
                    else:
                        mean[n], stdev[n] = 0.5, 1e3
                # Two-sided Gaussian tail of the averaged score (HTM's tailProbability).
                z = abs(average - mean[n]) / stdev[n]
                tail = 0.5 * math.erfc(z / math.sqrt(2.0))
                # Only the first of consecutive red points stays red (HTM's _filterLikelihoods).
                filtered = yellow if tail <= red and previous[n] <= red else tail
                previous[n] = tail
                tail_out[t, n] = filtered
            # The point joins the history the next estimates use (after the learning period).
            b = (count // period) % blocks
            if count % period == 0:
                block_n[n, b] = 0.0
                block_sum[n, b] = 0.0
                block_sq[n, b] = 0.0
                block_vsum[n, b] = 0.0
                block_vsq[n, b] = 0.0
            if count >= learning and age >= learning_seconds:
                shifted = value - origin[n]
                block_n[n, b] += 1.0
                block_sum[n, b] += average
                block_sq[n, b] += average * average
                block_vsum[n, b] += shifted
                block_vsq[n, b] += shifted * shifted
            count += 1
        seen[n] = count
    return tail_out


@numba.njit(cache=True, nogil=True)
def range_breaks(low: np.ndarray, high: np.ndarray, seen: np.ndarray, first: np.ndarray, record: np.ndarray,
                 values: np.ndarray,
                 timestamps: np.ndarray, active: np.ndarray, z: np.ndarray, tolerance: float, probation: int,
                 probation_seconds: float, min_z: float, spike_z: float) -> np.ndarray:
    """After the probation: points outside every value seen so far, widened by ``tolerance`` x
    the range, that the model also finds at least ``min_z`` deviations off (a slow drift to
    new highs is not one), and points at least ``spike_z`` deviations off and further off
    than any point before (a series' usual spikes are not news); state in place."""
    steps, series = values.shape
    out = np.zeros((steps, series), dtype=np.bool_)
    for n in range(series):
        lo, hi, count = low[n], high[n], seen[n]
        for t in range(steps):
            if not active[t, n]:
                continue
            x = values[t, n]
            if count == 0:
                lo = x
                hi = x
                first[n] = timestamps[t, n]
            elif count >= probation and timestamps[t, n] - first[n] >= probation_seconds:
                margin = tolerance * (hi - lo)
                beyond = hi > lo and (x > hi + margin or x < lo - margin) and abs(z[t, n]) >= min_z
                out[t, n] = beyond or (abs(z[t, n]) >= spike_z and abs(z[t, n]) > record[n])
            lo = min(lo, x)
            hi = max(hi, x)
            record[n] = max(record[n], abs(z[t, n]))
            count += 1
        low[n], high[n], seen[n] = lo, hi, count
    return out


@numba.njit(cache=True, nogil=True)
def settle_alarms(left: np.ndarray, last_alarm: np.ndarray, scores: np.ndarray, coarse: np.ndarray,
                  since: np.ndarray, timestamps: np.ndarray, active: np.ndarray, threshold: float, rest: int,
                  cap: float) -> None:
    """Alarms from point and coarse scores, in place in ``scores``.

    A coarse score counts (the larger of the two) only if the series has not alarmed at or
    after ``since``; then after a score at or above ``threshold`` the next ``rest`` points
    score at most ``cap``. ``left`` / ``last_alarm``: rest still to run and the last alarm's
    time, per series (in place).
    """
    steps, series = scores.shape
    for n in range(series):
        remaining = left[n]
        last = last_alarm[n]
        for t in range(steps):
            if not active[t, n]:
                continue
            if coarse[t, n] > scores[t, n] and last < since[t, n]:
                scores[t, n] = coarse[t, n]
            if remaining > 0:
                remaining -= 1
                scores[t, n] = min(scores[t, n], cap)
            elif scores[t, n] >= threshold:
                remaining = rest
                last = timestamps[t, n]
        left[n] = remaining
        last_alarm[n] = last
