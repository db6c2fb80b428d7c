"""The contextual (CAD OSE family) detector as a compiled loop over time.

See :mod:`models.detectors.contextual` for the method; this module only walks each series
through its steps, updating the state arrays in place.
"""

from __future__ import annotations

import numba
import numpy as np

# Per-series scalars.
C_SEEN, C_LAST_HIGH, C_PREDICTED, C_LOW, C_HIGH = 0, 1, 2, 3, 4
SCALARS = 5


@numba.njit(cache=True, nogil=True)
def _slot(order: int, history: np.ndarray, size: int) -> int:
    """Hashed table slot of the context 'the last ``order`` symbols were ``history[:order]``'."""
    key = np.uint64(order)
    for j in range(order):
        key = key * np.uint64(31) + np.uint64(history[j] + 1)
    key = (key * np.uint64(11400714819323198485)) >> np.uint64(20)
    return int(key % np.uint64(size))


@numba.njit(cache=True, nogil=True)
def _facts(symbol: int, bits: int) -> int:
    """A symbol as CAD's facts: one fact per bit position and value, as a bitmask."""
    mask = 0
    for b in range(bits):
        mask |= 1 << (2 * b + ((symbol >> b) & 1))
    return mask


@numba.njit(cache=True, nogil=True)
def contextual_run(scalars: np.ndarray, history: np.ndarray, seen: np.ndarray, counts: np.ndarray,
                   values: np.ndarray, active: np.ndarray, bits: int, rest: int, base: float,
                   fixed_low: float, fixed_high: float, fixed: bool) -> np.ndarray:
    """Update the state in place over ``(steps, series)`` points; return each point's anomaly score."""
    steps, series = values.shape
    orders = history.shape[1]
    size = seen.shape[1]
    top = (1 << bits) - 1
    out = np.zeros((steps, series))
    for n in range(series):
        s = scalars[n]
        for t in range(steps):
            if not active[t, n]:
                continue
            x = values[t, n]
            count = int(s[C_SEEN])
            if fixed:
                low, high = fixed_low, fixed_high
            else:
                if count == 0:
                    s[C_LOW], s[C_HIGH] = x, x
                s[C_LOW], s[C_HIGH] = min(s[C_LOW], x), max(s[C_HIGH], x)
                low, high = s[C_LOW], s[C_HIGH]
            span = high - low if high > low else float(top)
            symbol = min(max(int((x - low) / (span / top)), 0), top)
            # Prediction error: the bits of this value the last step did not predict, weighted 1, 2, 4, ...
            predicted = int(s[C_PREDICTED])
            error = 0.0
            facts = _facts(symbol, bits)
            for b in range(bits):
                fact = 1 << (2 * b + ((symbol >> b) & 1))
                if facts & fact and not predicted & fact:
                    error += 2.0 ** b
            score = 0.0
            known = min(count, orders)
            if known > 0:
                selected = 0
                hits = 0
                new = 0
                longest_new = False
                for k in range(1, known + 1):
                    slot = _slot(k, history[n], size)
                    if seen[n, slot] > 0:
                        selected += 1
                        if counts[n, slot, symbol] > 0:
                            hits += 1
                    if counts[n, slot, symbol] == 0:
                        new += 1
                        if k == known:
                            longest_new = True
                    seen[n, slot] += 1.0
                    counts[n, slot, symbol] += 1.0
                active_share = hits / selected if selected else 0.0
                added_share = new / known if longest_new else 0.0
                if error > 0:
                    score = (1.0 - active_share + added_share) / 2.0
            # CAD's rest: nothing is reported while any of the last ``rest`` scores reached ``base``.
            since = count + 1 - s[C_LAST_HIGH]
            out[t, n] = score if since > rest else 0.0
            if score >= base:
                s[C_LAST_HIGH] = count + 1
            for j in range(orders - 1, 0, -1):
                history[n, j] = history[n, j - 1]
            history[n, 0] = symbol
            count += 1
            s[C_SEEN] = count
            # Predictions for the next point: the next symbols of the best-predicting contexts.
            best = -1.0
            mask = 0
            for k in range(1, min(count, orders) + 1):
                slot = _slot(k, history[n], size)
                visits = seen[n, slot]
                if visits <= 0:
                    continue
                for v in range(top + 1):
                    ratio = counts[n, slot, v] / visits
                    if ratio <= 0:
                        continue
                    if ratio > best:
                        best = ratio
                        mask = _facts(v, bits)
                    elif ratio == best:
                        mask |= _facts(v, bits)
            s[C_PREDICTED] = mask
    return out
