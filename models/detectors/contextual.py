"""Contextual anomaly detection (the CAD OSE family): how new is the context of this value?

The method follows Mikhail Smirnov's Contextual Anomaly Detector, open-source edition
(CAD OSE, 2016; third in NAB's standard profile), rebuilt over fixed-size arrays so many
series run at once in compiled numba (:mod:`models.detectors.contextual_kernel`). What it
assumes: values repeat in sequences; an anomaly is a value that the contexts it arrives
in did not foresee, or that creates contexts never seen before.

Each value is discretised to ``2**bits`` levels of the value range and seen as facts (one
per bit: its position and value). A context is "the last ``k`` symbols were these, then
came that one", for ``k`` = 1 .. ``orders``. For each point: of the contexts whose left
part occurred before (*selected*), the share that also saw this symbol next (*active*),
and, when even the longest context is new, the share of contexts this point creates. The
score is ``(1 - active share + new share) / 2``, and 0 when every fact of the value was
predicted (the next symbols of the contexts with the best success ratio). After a score
of at least ``base``, nothing is reported for ``probation / 5`` points (CAD's rest).

Differences from CAD OSE, measured in BENCHMARKS.md: CAD grows an unbounded memory of
contexts between *sets of facts*, including "neurons" (contexts active one step earlier),
which lets contexts reach back arbitrarily far and generalise over partial matches; here
a context is an exact run of up to ``orders`` symbols, counted in a hashed table of
``table_size`` slots per series (collisions are rare and harmless: they only make a context
look more familiar). NAB hands CAD the file's minimum and maximum up front (look-ahead):
``value_range`` can be given the same way; by default the range is the running minimum and
maximum. There is no signed deviation: ``z_score`` is 0.

>>> import numpy as np
>>> pattern = np.tile([1.0, 2.0, 3.0, 4.0, 3.0, 2.0], 400)
>>> pattern[2000] = 1.0                                        # a value out of its sequence
>>> scores = ContextualDetector(ContextualDetector.Config()).score_series(pattern, np.arange(2400.0)).score
>>> bool(scores[2000] >= 0.7), int((scores[500:2000] > 0).sum())
(True, 0)
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from models.detectors.base import Detector, DetectorConfig, Scores, State


class ContextualConfig(DetectorConfig):
    threshold: float = Field(0.7, gt=0, lt=1, description="alarm at or above this score")
    probation: int = Field(750, ge=5, description="sets the rest after a high score: probation / 5 points")
    value_range: tuple[float, float] | None = Field(None, description="(min, max) known up front, as NAB hands "
                                                                      "them over; None: the running min and max")
    bits: int = Field(3, ge=1, le=6, description="bits per value: 2**bits levels")
    orders: int = Field(7, ge=1, le=32, description="longest context, in preceding values")
    table_size: int = Field(2048, ge=16, le=1 << 16, description="hashed context slots per series")
    base: float = Field(0.75, gt=0, le=1, description="a score at least this starts the rest")


class ContextualDetector(Detector):
    """Variable-order contexts of discretised values; novelty of the current one (CAD OSE family)."""

    name = "contextual"
    Config = ContextualConfig

    def __init__(self, config: ContextualConfig) -> None:
        super().__init__(config)
        self.config: ContextualConfig = config

    def init_state(self, size: int) -> State:
        from models.detectors.contextual_kernel import SCALARS

        c = self.config
        return {
            "scalars": np.zeros((size, SCALARS)),
            "history": np.zeros((size, c.orders)),
            "seen": np.zeros((size, c.table_size), dtype=np.float32),
            "counts": np.zeros((size, c.table_size, 1 << c.bits), dtype=np.float32),
        }

    def _update(self, state: State, values: np.ndarray, timestamps: np.ndarray, active: np.ndarray) -> Scores:
        one = self._update_many(state, values[None], timestamps[None], active[None])
        return Scores(one.score[0], one.z_score[0])

    def _update_many(self, state: State, values: np.ndarray, timestamps: np.ndarray,
                     active: np.ndarray) -> Scores:
        from models.detectors.contextual_kernel import contextual_run

        c = self.config
        arrays: State = {"scalars": np.ascontiguousarray(state["scalars"], dtype=np.float64),
                         "history": np.ascontiguousarray(state["history"], dtype=np.float64),
                         "seen": np.ascontiguousarray(state["seen"], dtype=np.float32),
                         "counts": np.ascontiguousarray(state["counts"], dtype=np.float32)}
        low, high = c.value_range if c.value_range is not None else (0.0, 0.0)
        score = contextual_run(arrays["scalars"], arrays["history"], arrays["seen"], arrays["counts"],
                               np.ascontiguousarray(values, dtype=np.float64),
                               np.ascontiguousarray(active, dtype=bool), c.bits, c.probation // 5, c.base,
                               float(low), float(high), c.value_range is not None)
        state.update(arrays)
        return Scores(score, np.zeros(values.shape))
