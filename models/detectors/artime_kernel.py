"""The ARTime detector as a compiled loop over time (see :mod:`models.detectors.artime`).

One function walks each series through its steps; the state is a set of arrays with one
row per series, updated in place. The steps follow ARTimeNAB.jl (Mark Hampton, 2021):
downsample, discretise, "levelise" around a running median, wavelet + raw window features,
then a distributed-vigilance fuzzy ART (DVFA) whose vigilance adapts to the series.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Indices into the per-series scalar block ``scalars[n, :]``.
I_SAMPLES, I_DSI, I_DS_AVG, I_MEDLEVEL, I_BELOW, I_ABOVE = 0, 1, 2, 3, 4, 5
I_CATEGORIES, I_RHO_LB, I_RHO_UB, I_LAST_ANOMALY, I_LAST_ANOMALY_SIM, I_LAST_RHO_UPDATE = 6, 7, 8, 9, 10, 11
I_MASK_AFTER_CAT, I_NO_NEW_CAT, I_A_SUM, I_A_COUNT, I_HIST_SUM, I_HIST_LAST, I_HIST_COUNT = 12, 13, 14, 15, 16, 17, 18
I_LOW, I_HIGH, I_CLOCK = 19, 20, 21
SCALARS = 22


@numba.njit(cache=True, nogil=True)
def haar(signal: np.ndarray) -> np.ndarray:
    """Full periodic Haar transform of a power-of-two signal: [approximation, coarse ... fine details]."""
    size = signal.size
    out = np.empty(size)
    current = signal.copy()
    length = size
    while length > 1:
        half = length // 2
        for k in range(half):
            a, b = current[2 * k], current[2 * k + 1]
            out[half + k] = (b - a) / math.sqrt(2.0)
            current[k] = (a + b) / math.sqrt(2.0)
        length = half
    out[0] = current[0]
    return out


@numba.njit(cache=True, nogil=True)
def _activation(weights: np.ndarray, count: int, sample: np.ndarray, match: np.ndarray, energy: np.ndarray) -> None:
    """DVFA activation: feature similarity^3 x energy similarity^2 against each category."""
    dim = sample.size // 2
    for j in range(count):
        numerator = 0.0
        norm = 0.0
        for d in range(sample.size):
            w = weights[j, d]
            numerator += min(sample[d], w)
            norm += w
        if norm == 0.0:
            norm = 0.001
        features = numerator / norm
        e_num = min(sample[dim - 1], weights[j, dim - 1]) + min(sample[-1], weights[j, sample.size - 1])
        e_den = weights[j, dim - 1] + weights[j, sample.size - 1]
        e = e_num / e_den if e_den > 0.0 else 0.0
        match[j] = features ** 3 * e ** 2
        energy[j] = e


@numba.njit(cache=True, nogil=True)
def _train(weights: np.ndarray, stamp: np.ndarray, count: int, clock: float, sample: np.ndarray,
           rho_lb: float, rho_ub: float, learning: bool, match: np.ndarray,
           energy: np.ndarray) -> tuple[int, bool, float, float]:
    """One DVFA step; returns (categories, resonated, best match, its energy similarity).

    ``resonated`` is false when no category clears the lower vigilance (ARTime's anomaly
    candidate). A new category takes the sample; when the store is full it replaces the
    category used longest ago (the original grows without bound).
    """
    capacity = weights.shape[0]
    if count == 0:
        weights[0, :] = 1.0  # the first call only creates the all-ones category
        stamp[0] = clock
        return 1, False, 0.0, 0.0
    _activation(weights, count, sample, match, energy)
    best = 0
    for j in range(1, count):
        if match[j] > match[best]:
            best = j
    top, top_energy = match[best], energy[best]
    if not learning:
        return count, False, top, top_energy
    if top >= rho_ub:
        for j in range(count):
            if match[j] >= rho_ub:
                for d in range(sample.size):
                    weights[j, d] = min(weights[j, d], sample[d])
                stamp[j] = clock
        return count, True, top, top_energy
    # A new category (from a lower-vigilance match or a mismatch).
    if count < capacity:
        slot = count
        count += 1
    else:
        slot = 0
        for j in range(1, capacity):
            if stamp[j] < stamp[slot]:
                slot = j
    weights[slot, :] = sample
    stamp[slot] = clock
    return count, top >= rho_lb, top, top_energy


@numba.njit(cache=True, nogil=True)
def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """ARTime's near-cosine similarity (1 - the other's norm when one vector is zero)."""
    na = math.sqrt(np.sum(a * a))
    nb = math.sqrt(np.sum(b * b))
    if na == 0.0:
        return 1.0 - nb
    if nb == 0.0:
        return 1.0 - na
    return np.sum(a * b) / (na * nb)


@numba.njit(cache=True, nogil=True)
def _initial_rho(buffer: np.ndarray, first: int, trend: int, initial: float) -> float:
    """Train a scratch ART on the probation's features, most typical last; mean late match."""
    n = trend - first
    rows = buffer[first:trend]
    sums = np.zeros(n)
    for i in range(n):
        for j in range(n):
            sums[i] += 1.0 if i == j else _similarity(rows[i], rows[j])
    order = np.argsort(sums, kind="mergesort")
    dim = rows.shape[1]
    weights = np.zeros((n + 1, 2 * dim))
    stamp = np.zeros(n + 1)
    match = np.zeros(n + 1)
    energy = np.zeros(n + 1)
    sample = np.empty(2 * dim)
    count = 0
    total = 0.0
    used = 0
    for k in range(n):
        row = rows[order[k]]
        sample[:dim] = row
        sample[dim:] = 1.0 - row
        count, _, top, _ = _train(weights, stamp, count, float(k), sample, initial, initial, True, match, energy)
        if k >= trend // 2 - 1:  # ARTime averages A[trend ÷ 2 : end] (1-based)
            total += top
            used += 1
    return total / used if used else initial


@numba.njit(cache=True, nogil=True)
def _detect(s: np.ndarray, weights: np.ndarray, stamp: np.ndarray, sims: np.ndarray, diffs: np.ndarray,
            features: np.ndarray, i: int, window: int, trend: int, mask: int, match: np.ndarray,
            energy: np.ndarray) -> float:
    """ARTime's ``detect!`` for the ``i``-th downsampled sample (1-based); returns its anomaly score."""
    since_anomaly = i - s[I_LAST_ANOMALY]
    update_after_anomaly = since_anomaly == mask
    update_for_trend = i - s[I_LAST_RHO_UPDATE] >= trend // 2
    mask_after_anomaly = since_anomaly <= mask
    if i > trend + mask and s[I_MASK_AFTER_CAT] > 0 and s[I_NO_NEW_CAT] >= mask:
        s[I_MASK_AFTER_CAT] = 0.0
    dim = features.size
    sample = np.empty(2 * dim)
    sample[:dim] = features
    sample[dim:] = 1.0 - features
    s[I_CLOCK] += 1.0
    count, resonated, a, ae = _train(weights, stamp, int(s[I_CATEGORIES]), s[I_CLOCK], sample, s[I_RHO_LB],
                                     s[I_RHO_UB], i >= window, match, energy)
    s[I_CATEGORIES] = count
    new_cluster = not resonated or i < window
    s[I_NO_NEW_CAT] = 0.0 if new_cluster else s[I_NO_NEW_CAT] + 1.0
    s[I_A_SUM] += a
    s[I_A_COUNT] += 1.0
    sims[(i - 1) % sims.size] = a
    diffs[(i - 1) % diffs.size] = s[I_RHO_UB] - a
    if since_anomaly < mask and s[I_HIST_COUNT] > 0 and a < s[I_HIST_LAST]:
        s[I_HIST_LAST] = a
    masking = s[I_MASK_AFTER_CAT] > 0 or mask_after_anomaly
    below_last = a < s[I_LAST_ANOMALY_SIM] * (0.90 if mask_after_anomaly else 0.70)
    anomaly = 0.0
    if i > trend and new_cluster and (not masking or below_last):
        anomaly = _confidence(a, ae, s[I_RHO_LB], s[I_RHO_UB])
        if s[I_HIST_COUNT] > 0:
            s[I_HIST_SUM] += s[I_HIST_LAST]
        s[I_HIST_LAST] = a
        s[I_HIST_COUNT] += 1.0
        s[I_LAST_ANOMALY_SIM] = a
        s[I_LAST_ANOMALY] = i
    if new_cluster:
        s[I_MASK_AFTER_CAT] = 1.0
    if i > trend and (update_after_anomaly or update_for_trend):
        lowest = sims.min()
        new_ub = min(0.97, s[I_A_SUM] / s[I_A_COUNT])
        lb = s[I_RHO_LB]
        if lb <= lowest:
            new_lb = lb + (lowest - lb) * 0.19
        else:
            decrease = 0.0
            if i > 2 * trend:
                total = 0.0
                used = 0
                for d in diffs:
                    if d > 0.05:
                        total += min(0.37, d)
                        used += 1
                if used:
                    decrease = total / used
            new_lb = lb - max(0.01, decrease) / 2.0
            if s[I_HIST_COUNT] > 0:
                new_lb = max((s[I_HIST_SUM] + s[I_HIST_LAST]) / s[I_HIST_COUNT], new_lb)
        s[I_RHO_LB] = min(new_ub, new_lb)
        s[I_RHO_UB] = new_ub
        s[I_LAST_RHO_UPDATE] = i
        s[I_MASK_AFTER_CAT] = 1.0
    return anomaly


@numba.njit(cache=True, nogil=True)
def _confidence(similarity: float, energy: float, rho_lb: float, rho_ub: float) -> float:
    similarity = min(0.999, similarity)
    upper = ((1.0 - similarity) - (1.0 - rho_ub)) / (1.0 - similarity)
    lower = ((1.0 - similarity) - (1.0 - rho_lb)) / (1.0 - similarity)
    return min(1.0, upper * 0.35 + lower * 0.65 + (1.0 - energy) * 1.5)


@numba.njit(cache=True, nogil=True)
def artime_run(scalars: np.ndarray, ds_ring: np.ndarray, medbin: np.ndarray, f_window: np.ndarray,
               buffer: np.ndarray, weights: np.ndarray, stamp: np.ndarray, sims: np.ndarray, diffs: np.ndarray,
               values: np.ndarray, active: np.ndarray, step: int, trend: int, window: int, mask: int,
               levels: int, chomp: float, initial_rho: float, fixed_low: float, fixed_high: float,
               fixed: bool, freeze_at: int, padding: float) -> np.ndarray:
    """Update the state in place over ``(steps, series)`` points; return each point's anomaly score."""
    steps, series = values.shape
    out = np.zeros((steps, series))
    dim = 2 * window
    match = np.zeros(weights.shape[1])
    energy = np.zeros(weights.shape[1])
    for n in range(series):
        s = scalars[n]
        for t in range(steps):
            if not active[t, n]:
                continue
            x = values[t, n]
            i = int(s[I_SAMPLES]) + 1
            s[I_SAMPLES] = i
            if fixed:
                low, high = fixed_low, fixed_high
            else:
                if i == 1:
                    s[I_LOW], s[I_HIGH] = x, x
                if freeze_at <= 0 or i < freeze_at:
                    s[I_LOW], s[I_HIGH] = min(s[I_LOW], x), max(s[I_HIGH], x)
                elif i == freeze_at:
                    s[I_LOW], s[I_HIGH] = min(s[I_LOW], x), max(s[I_HIGH], x)
                    pad = padding * (s[I_HIGH] - s[I_LOW])
                    s[I_LOW], s[I_HIGH] = s[I_LOW] - pad, s[I_HIGH] + pad
                low, high = s[I_LOW], s[I_HIGH]
            ds_ring[n, (i - 1) % step] = x
            if i % step != 0:
                continue
            # Downsample: the window's mean, or its extreme when that is a real spike.
            mean = 0.0
            top = -np.inf
            bottom = np.inf
            for v in ds_ring[n]:
                mean += v
                top = max(top, v)
                bottom = min(bottom, v)
            mean /= step
            dsi = int(s[I_DSI]) + 1
            s[I_DSI] = dsi
            if dsi == 1:
                s[I_DS_AVG] = mean
            s[I_DS_AVG] = (s[I_DS_AVG] + mean) / 2.0
            ds = top
            if abs(top - s[I_DS_AVG]) < abs(bottom - s[I_DS_AVG]):
                ds = bottom
            if abs(ds - mean) < 0.1 * mean:  # a spike must stand out by 10 %
                ds = mean
            ds = ds - low
            if high - low != 0.0:
                ds = ds / (high - low)
            level = int(np.rint(ds * levels))
            level = min(max(level, 0), levels)
            ds = level / levels
            # "Levelise": snap to a running median of the levels when close to it.
            medbin[n, level] += 1.0
            half = dsi // 2
            if dsi == 1:
                s[I_MEDLEVEL] = level
            med = int(s[I_MEDLEVEL])
            if med > level:
                s[I_BELOW] += 1.0
            elif med < level:
                s[I_ABOVE] += 1.0
            if half < s[I_ABOVE]:
                s[I_BELOW] += medbin[n, med]
                med += 1
                while med < levels and medbin[n, med] == 0:
                    med += 1
                s[I_ABOVE] -= medbin[n, med]
            elif half < s[I_BELOW]:
                s[I_ABOVE] += medbin[n, med]
                med -= 1
                while med > 0 and medbin[n, med] == 0:
                    med -= 1
                s[I_BELOW] -= medbin[n, med]
            s[I_MEDLEVEL] = med
            if abs(ds - med / levels) < chomp:
                ds = med / levels
            # Features: the normalised window's Haar transform and the raw window.
            for k in range(window - 1):
                f_window[n, k] = f_window[n, k + 1]
            f_window[n, window - 1] = ds
            features = np.zeros(dim)
            if dsi >= window:
                shape = f_window[n].copy()
                shape -= shape.min()
                if shape.max() != 0.0:
                    shape /= shape.max()
                wave = haar(shape)
                wave -= wave.min()
                if wave.max() != 0.0:
                    wave /= wave.max()
                features[:window] = wave
                features[window:] = f_window[n]
            if dsi <= trend:
                buffer[n, dsi - 1] = features
                if dsi == trend:
                    rho = _initial_rho(buffer[n], window - 1, trend, initial_rho)
                    s[I_RHO_LB], s[I_RHO_UB] = rho, rho
                    for k in range(trend):
                        _detect(s, weights[n], stamp[n], sims[n], diffs[n], buffer[n, k], k + 1, window, trend,
                                mask, match, energy)
                continue
            out[t, n] = _detect(s, weights[n], stamp[n], sims[n], diffs[n], features, dsi, window, trend, mask,
                                match, energy)
    return out
