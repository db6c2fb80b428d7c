"""Thresholding as a wrapper over a detector's score (river's ``anomaly.ThresholdFilter``).

A :class:`~models.detectors.base.Detector` only scores; :class:`ThresholdFilter` decides
which scores are anomalies, one threshold per series (a row of the detector's state). Every
series starts at the detector's own ``config.threshold``; a person's verdict on one of its
anomalies moves that series' threshold (:meth:`ThresholdFilter.feedback`): a false positive
a quarter of the way up to ``MAX_THRESHOLD`` (less sensitive), a confirmed one a quarter of
the way back down to the model's own threshold, never outside the two. The scores
themselves are never changed, so evaluation figures do not depend on this wrapper.

Its state is one float64 array, ``thresholds`` (row ``i`` is series ``i``), checkpointed
with the detector's state (``to_array`` / ``from_array``).

>>> from models.registry import build
>>> gate = ThresholdFilter(build("detector", "ewma", {"threshold": 0.9}), size=2)
>>> gate.anomalous(np.array([0.95, 0.95]), np.array([0, 1])).tolist()
[True, True]
>>> round(gate.feedback(1, "false_positive"), 5)  # a quarter of the way from 0.9 to 0.995
0.92375
>>> gate.anomalous(np.array([0.92, 0.92]), np.array([0, 1])).tolist()
[True, False]
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from models.detectors.base import Detector

FEEDBACK_STEP = 0.25  # how far one verdict moves a series' threshold toward its bound
MAX_THRESHOLD = 0.995  # a series never gets less sensitive than this

Verdict = Literal["false_positive", "true_positive"]


class ThresholdFilter:
    """Per-series thresholds over ``detector``'s scores, moved by people's verdicts."""

    def __init__(self, detector: Detector, size: int = 0) -> None:
        self.detector = detector
        self.thresholds = np.full(size, self.base)

    @property
    def base(self) -> float:
        """The detector's own threshold: where every series starts and the lowest it goes."""
        return float(self.detector.config.threshold)

    @property
    def size(self) -> int:
        return int(self.thresholds.size)

    def grow(self, size: int) -> None:
        """Room for ``size`` series; new ones start at :attr:`base`."""
        if size > self.size:
            self.thresholds = np.concatenate([self.thresholds, np.full(size - self.size, self.base)])

    def anomalous(self, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``scores[i] >= threshold of series rows[i]``, elementwise (bool array of ``scores``' shape)."""
        return np.asarray(scores) >= self.thresholds[rows]

    def feedback(self, row: int, verdict: Verdict | str) -> float:
        """Move series ``row``'s threshold after a verdict (another verdict changes nothing);
        returns its threshold now, within ``[base, MAX_THRESHOLD]``."""
        base = self.base
        current = float(self.thresholds[row])
        if verdict == "false_positive":
            current += (MAX_THRESHOLD - current) * FEEDBACK_STEP
        elif verdict == "true_positive":
            current -= (current - base) * FEEDBACK_STEP
        self.thresholds[row] = min(MAX_THRESHOLD, max(base, current))
        return float(self.thresholds[row])

    def to_array(self) -> np.ndarray:
        """The thresholds, for a checkpoint (a copy)."""
        return self.thresholds.copy()

    @classmethod
    def from_array(cls, detector: Detector, thresholds: np.ndarray) -> ThresholdFilter:
        """Back from :meth:`to_array` over the same detector."""
        restored = cls(detector)
        restored.thresholds = np.asarray(thresholds, dtype=np.float64).copy()
        return restored
