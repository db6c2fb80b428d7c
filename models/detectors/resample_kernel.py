"""Time blocks for a detector that judges a series at a coarser step (see :mod:`models.detectors.calibrated`).

A point joins the open block of ``width`` seconds its timestamp falls in; the first point
of a later block closes the open one, which is reported at that point (its mean and its
centre time). So a block is judged once it is complete, one point after its end, and
nothing is read ahead. State per series: the open block's number, its sum and its count.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def close_blocks(block: np.ndarray, total: np.ndarray, count: np.ndarray, values: np.ndarray,
                 timestamps: np.ndarray, active: np.ndarray,
                 width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add ``(steps, series)`` points to their blocks (state in place).

    Returns, each ``(steps, series)``: whether the point closed a block, that block's mean
    and its centre (unix seconds).
    """
    steps, series = values.shape
    closed = np.zeros((steps, series), dtype=np.bool_)
    means = np.zeros((steps, series))
    centres = np.zeros((steps, series))
    for n in range(series):
        b, s, c = block[n], total[n], count[n]
        for t in range(steps):
            if not active[t, n]:
                continue
            current = math.floor(timestamps[t, n] / width)
            if c > 0 and current != b:
                closed[t, n] = True
                means[t, n] = s / c
                centres[t, n] = (b + 0.5) * width
                s = 0.0
                c = 0.0
            if c == 0:
                b = current
            s += values[t, n]
            c += 1.0
        block[n], total[n], count[n] = b, s, c
    return closed, means, centres
