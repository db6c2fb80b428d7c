"""Lagged cross-correlation of many series at once, as batched FFTs in torch.

For every pair (i, j) and every lag ``l`` in ``[-max_lag, max_lag]`` the Pearson-style
correlation of ``x_i(t)`` with ``x_j(t + l)``: a positive best lag means j moves after i.
Each series is linearly detrended (so a shared daily trend is not mistaken for a
relation) and standardised over its observed points; gaps count as zero, and with gaps
every lag is normalised by both series' energy over the points they share there (three
more FFT products), so gaps neither create nor hide correlation. Constant series have
no variance and correlate with nothing. The same code runs on CUDA when torch sees one,
else on CPU; rows are processed in chunks so thousands of series fit in a bounded amount of memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

CHUNK_ELEMENTS = 1 << 24  # complex products per chunk: bounds memory at a few hundred MB


@dataclass
class LaggedCorrelation:
    score: np.ndarray  # (N, N) float32: the correlation at the best lag, in [-1, 1]
    lag: np.ndarray  # (N, N) int32: the best lag in steps (positive: column moves after row)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def standardise(values: np.ndarray, detrend: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(z, mask)``: each row detrended and scaled to unit variance; gaps (NaN) become 0."""
    values = np.asarray(values, dtype=np.float64)
    mask = np.isfinite(values)
    count = mask.sum(axis=1, keepdims=True)
    safe = np.maximum(count, 1)
    filled = np.where(mask, values, 0.0)
    mean = filled.sum(axis=1, keepdims=True) / safe
    centred = np.where(mask, values - mean, 0.0)
    if detrend and values.shape[1] > 2:
        t = np.arange(values.shape[1], dtype=np.float64)[None, :]
        t_mean = (mask * t).sum(axis=1, keepdims=True) / safe
        t_c = np.where(mask, t - t_mean, 0.0)
        denominator = (t_c**2).sum(axis=1, keepdims=True)
        slope = (t_c * centred).sum(axis=1, keepdims=True) / np.maximum(denominator, 1e-300)
        centred = np.where(mask, centred - slope * t_c, 0.0)
    spread = np.sqrt((centred**2).sum(axis=1, keepdims=True) / safe)
    level = np.maximum(np.abs(mean), 1.0)
    flat = spread <= 1e-9 * level  # constant (up to float noise): no information
    z = np.where(flat, 0.0, centred / np.where(flat, 1.0, spread))
    return z, mask & ~flat


def lagged_correlation(values: np.ndarray, max_lag: int, *, detrend: bool = True, min_overlap: int | None = None,
                       device: torch.device | None = None) -> LaggedCorrelation:
    """Best-lag correlation between every pair of rows of ``values`` (shape ``(N, T)``)."""
    n, length = values.shape
    max_lag = max(0, min(int(max_lag), length - 2))
    if min_overlap is None:
        min_overlap = max(3, length // 2)
    if n == 0 or length < 3:
        return LaggedCorrelation(np.zeros((n, n), np.float32), np.zeros((n, n), np.int32))
    device = device or default_device()
    z, mask = standardise(values, detrend)
    size = 1 << int(np.ceil(np.log2(length + max_lag)))
    lags = torch.arange(-max_lag, max_lag + 1, device=device)
    positions = torch.remainder(lags, size)
    gaps = not bool(mask.all())

    def spectrum(rows: np.ndarray) -> torch.Tensor:
        return torch.fft.rfft(torch.as_tensor(rows, dtype=torch.float32, device=device), n=size)

    zf = spectrum(z)
    if gaps:  # per-lag normalisation needs where each series has points and its energy there
        mf, ef = spectrum(mask), spectrum(z * z)
    full = torch.as_tensor(length - lags.abs(), dtype=torch.float32, device=device)
    rows = max(1, CHUNK_ELEMENTS // max(1, n * zf.shape[1]) // (3 if gaps else 1))
    best = np.zeros((n, n), np.float32)
    best_lag = np.zeros((n, n), np.int32)

    def xcorr(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        # irfft(conj(X_i) * Y_j)[l] = sum_t x_i(t) y_j(t + l): lag l of j relative to i.
        return torch.fft.irfft(left[:, None, :].conj() * right[None, :, :], n=size)[..., positions]

    # Ties go to the smallest |lag|: lags are looked at in order of distance from zero.
    order = torch.argsort(lags.abs(), stable=True)
    for first in range(0, n, rows):
        last = min(n, first + rows)
        # Only columns from ``first`` on: the pair (j, i) is the pair (i, j) at the opposite lag.
        cross = xcorr(zf[first:last], zf[first:])
        if gaps:
            overlap = xcorr(mf[first:last], mf[first:]).round()
            energy = (xcorr(ef[first:last], mf[first:]) * xcorr(mf[first:last], ef[first:])).clamp(min=1e-12).sqrt()
            corr = torch.where(overlap >= min_overlap, cross / energy, torch.zeros((), device=device))
        else:
            corr = torch.where(full >= min_overlap, cross / full, torch.zeros((), device=device))
        corr = corr.clamp(-1.0, 1.0)
        pick = order[corr.abs()[..., order].argmax(dim=-1)]
        block = torch.gather(corr, -1, pick[..., None])[..., 0].cpu().numpy()
        block_lag = lags[pick].cpu().numpy().astype(np.int32)
        best[first:last, first:] = block
        best_lag[first:last, first:] = block_lag
        best[first:, first:last] = block.T
        best_lag[first:, first:last] = -block_lag.T
    np.fill_diagonal(best, 1.0)
    np.fill_diagonal(best_lag, 0)
    return LaggedCorrelation(best, best_lag)
