"""``MetricFrame``: many metric series of many services on one regular time grid.

The RCA rankers and the correlation code read the same frame whether it came from
ClickHouse (per-minute averages computed in SQL) or from an offline case file, so the
live path and ``aiops eval rca`` run identical model code. (It lived in
``aiops/rca/frame.py``, which still re-exports it.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class MetricFrame:
    times: np.ndarray  # (T,) unix seconds of each grid step, ascending
    step: float  # seconds between grid steps
    columns: list[tuple[str, str]]  # (service_id, metric_name) per row of ``values``
    values: np.ndarray  # (M, T) float64; NaN where a series has no point in a step

    @property
    def services(self) -> list[str]:
        return sorted({service for service, _ in self.columns})

    def service_rows(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = {}
        for index, (service, _) in enumerate(self.columns):
            rows.setdefault(service, []).append(index)
        return rows

    @classmethod
    def from_long(cls, timestamps: np.ndarray, services: Sequence[str], metrics: Sequence[str],
                  values: np.ndarray, step: float | None = None) -> MetricFrame:
        """Pivot long rows (one point each) onto a grid; points sharing a step are averaged.

        ``step`` defaults to the most common spacing of the distinct timestamps. Non-finite
        values (NaN, ±inf) are left out of the averages, which therefore stay finite.
        """
        timestamps = np.asarray(timestamps, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        if timestamps.size == 0:
            return cls(np.empty(0), float(step or 60.0), [], np.empty((0, 0)))
        distinct = np.unique(timestamps)
        if step is None:
            gaps = np.diff(distinct)
            step = float(np.median(gaps)) if gaps.size else 60.0
        step = max(float(step), 1e-9)
        origin = distinct[0]
        slots = np.rint((timestamps - origin) / step).astype(np.int64)
        length = int(slots.max()) + 1
        keys = [f"{s}\x00{m}" for s, m in zip(services, metrics, strict=True)]
        names, column = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
        flat = column * length + slots
        # Non-finite readings carry no level; dropping them keeps a cell's mean finite.
        finite = np.isfinite(values)
        flat, values = flat[finite], values[finite]
        count = np.bincount(flat, minlength=names.size * length)
        # Each point enters as value / (points in its cell), so a cell of two 1e308 readings
        # averages to 1e308 instead of overflowing to inf on the way (the sum first would).
        total = np.bincount(flat, weights=values / count[flat], minlength=names.size * length)
        grid = np.where(count > 0, total, np.nan).reshape(names.size, length)
        columns = [tuple(str(n).split("\x00", 1)) for n in names]
        return cls(origin + step * np.arange(length), step, columns, grid)  # type: ignore[arg-type]

    def split(self, start: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(before, after, after_times)``: the columns before ``start`` and from it on."""
        cut = int(np.searchsorted(self.times, start, side="left"))
        return self.values[:, :cut], self.values[:, cut:], self.times[cut:]
