"""The ``RootCauseRanker`` interface and the deviation measure the rankers share.

A ranker sees every metric of every service on one grid (:class:`MetricFrame`), the
anomaly's start, and optionally the service graph, and returns every service with a score,
best first, each with the metrics that incriminate it. It must not look past the frame it
is given (no labels, no lookups): the same code runs live and in ``aiops eval rca``.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.telemetry import LogTable, MetricFrame, SpanTable

if TYPE_CHECKING:  # only for annotations
    from models.telemetry.graph import ServiceGraph


class RankerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence: int = Field(3, ge=1, le=20, description="metrics listed as evidence per service")


METRIC, TRACE, LOG = "metric", "trace", "log"  # the evidence kinds (modalities)


@dataclass(frozen=True)
class Evidence:
    """One thing that moved. ``metric_name`` names the series (metric evidence) or the measure
    (``span_self_time``, ``call_latency``, ``missing_log``, ``error_logs`` ...) for trace and log
    evidence; ``z_score`` is how far it moved, signed, in that measure's standard units
    (sigmas of its own past for metrics; see the signal for the others); ``at`` is when (unix
    seconds). Trace and log evidence name the ``operation`` (span name), the ``calls``
    (``caller -> callee``) or the log ``template`` involved, and counts where they apply."""

    metric_name: str
    z_score: float  # signed, at the most deviant point after the start
    at: float  # unix seconds of that point
    kind: str = METRIC
    operation: str | None = None
    calls: str | None = None
    template: str | None = None
    observed: float | None = None  # count or value seen after the start (trace and log evidence)
    expected: float | None = None  # what the normal part of the window predicted


@dataclass
class RankedCause:
    service_id: str
    score: float
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Deviation:
    """Per metric series: the most deviant standardised value after the start, and when."""

    z: np.ndarray  # (M,) signed z at the most deviant point (0 where unknowable)
    at: np.ndarray  # (M,) unix seconds of that point (NaN where unknowable)
    onset: np.ndarray  # (M,) unix seconds of the first point past half its peak and ``onset_z`` (inf if none)


def _median_and_quartiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise median, 75th and 25th percentiles ignoring NaN (numpy's nan-versions loop over
    rows in Python, so rows without NaN, usually nearly all, take the vectorised path)."""
    m = values.shape[0]
    out = np.full((3, m), np.nan)
    whole = np.isfinite(values).all(axis=1)
    if values.shape[1] and whole.any():
        out[:, whole] = np.percentile(values[whole], [50, 75, 25], axis=1)
    if (~whole).any():
        out[:, ~whole] = np.nanpercentile(values[~whole], [50, 75, 25], axis=1)
    return out[0], out[1], out[2]


MAX_Z = 1e12  # standardised moves are capped here so every aggregate stays finite


def deviation(frame: MetricFrame, start: float, *, robust: bool, relative_floor: float,
              onset_z: float = 3.0) -> Deviation:
    """How far each series moved after ``start`` compared with its own past before it.

    ``robust``: centre at the median and scale by the inter-quartile range (BARO's
    RobustScaler); otherwise mean and standard deviation (N-sigma). The scale never goes
    below ``relative_floor`` times the series' typical level: a metric that barely
    fluctuates (memory held flat by an allocator, a pinned CPU) would otherwise turn a
    one-percent wobble into hundreds of sigmas and outrank the real fault.
    """
    before, after, after_times = frame.split(start)
    m = frame.values.shape[0]
    z = np.zeros(m)
    at = np.full(m, np.nan)
    onset = np.full(m, np.inf)
    if after.shape[1] == 0:
        return Deviation(z, at, onset)
    # A series with no point before the start (or none at all) is unknowable, not an error:
    # numpy's all-NaN warnings would only be noise here, one per empty series.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if robust:
            centre, q75, q25 = _median_and_quartiles(before)
            scale = (q75 - q25) / 1.349  # IQR of a normal distribution, in sigmas
        else:
            centre = np.nanmean(before, axis=1)
            scale = np.nanstd(before, axis=1)
        known = np.isfinite(before).sum(axis=1) >= 3
        level = np.nanmean(np.abs(before), axis=1)
        scale = np.fmax(np.fmax(scale, relative_floor * np.fmax(np.abs(centre), level)), 1e-9)
        standard = (after - centre[:, None]) / scale[:, None]
    # Readings near the float limit (1e308) overflow the standardisation to inf: that is the
    # largest move there is, so it is capped rather than dropped (a dropped one ranked last).
    standard = np.clip(np.nan_to_num(standard, nan=0.0, posinf=MAX_Z, neginf=-MAX_Z), -MAX_Z, MAX_Z)
    standard = np.where(known[:, None], standard, 0.0)
    peak = np.abs(standard).argmax(axis=1)
    rows = np.arange(m)
    z = standard[rows, peak]
    at = np.where(known, after_times[peak], np.nan)
    # Onset: the first point past half the peak (and past ``onset_z``), so a stray noise
    # crossing before a large move does not count as its start.
    past = np.abs(standard) >= np.maximum(onset_z, 0.5 * np.abs(z))[:, None]
    first = past.argmax(axis=1)
    onset = np.where(past.any(axis=1), after_times[first], np.inf)
    return Deviation(z, at, onset)


def by_service(frame: MetricFrame, dev: Deviation, evidence: int) -> dict[str, tuple[float, list[Evidence]]]:
    """Each service's strongest |z| and its top metrics as evidence."""
    out: dict[str, tuple[float, list[Evidence]]] = {}
    for service, rows in frame.service_rows().items():
        ordered = sorted(rows, key=lambda r: -abs(dev.z[r]))
        items = [Evidence(frame.columns[r][1], round(float(dev.z[r]), 3), float(dev.at[r]))
                 for r in ordered[:evidence] if np.isfinite(dev.at[r]) and dev.z[r] != 0]
        out[service] = (float(abs(dev.z[ordered[0]])), items)
    return out


def shares(raw: dict[str, float]) -> dict[str, float]:
    """Scores as shares of their total (in [0, 1], summing to 1), so they read as confidence."""
    total = sum(max(v, 0.0) for v in raw.values())
    if total <= 0:
        return {k: 1.0 / len(raw) for k in raw} if raw else {}
    return {k: max(v, 0.0) / total for k, v in raw.items()}


class RootCauseRanker(ABC):
    name: str
    Config: type[RankerConfig] = RankerConfig
    uses_graph = False  # True: callers should learn the service graph even offline (declared edges always come)
    reads_telemetry = False  # True: rank() reads the spans and log records themselves

    def __init__(self, config: RankerConfig) -> None:
        self.config = config

    @abstractmethod
    def rank(self, frame: MetricFrame, start: float, graph: ServiceGraph | None = None, *,
             spans: SpanTable | None = None, logs: LogTable | None = None) -> list[RankedCause]:
        """Every service of ``frame`` (and of ``spans`` / ``logs``), most likely root cause first.

        ``spans`` and ``logs`` are the window's traces and log records when the tenant sends
        them; rankers that read metrics only ignore them.
        """
