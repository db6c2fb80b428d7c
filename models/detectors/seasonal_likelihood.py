"""The previous live default: daily and weekly seasonal deviations, judged by HTM's anomaly likelihood.

The watchdog now defaults to :mod:`~models.detectors.seasonal_multiscale`, which adds a
member on 6-hour block means to these two.

What it assumes: a metric is a level plus a daily and a weekly profile plus noise (the
:mod:`~models.detectors.seasonal` model, here with slot memories measured in days, so a
one-minute and a one-hour series learn their day alike). What alarms is what *this
series* rarely does, in four ways (:mod:`~models.detectors.calibrated`):

- a sustained deviation: the signed deviation from the daily model, and from the weekly
  one, averaged over 20 points, has a Gaussian tail probability (HTM's anomaly
  likelihood, against the series' own history) of at most 10^(-10 x threshold);
- a new extreme: a value beyond every value seen (by 5 % of the range) that is also at
  least 5 deviations off the daily model (a slow drift to new highs is not one);
- a spike: a point at least 10 deviations off, and further off than any point before;
- and then a rest: after an alarm, the next 50 points cannot alarm.

``anomaly_score`` is ``-log10(tail) / 10`` with the tail multiplied by the number of
members (2): each +0.1 is ten times rarer, a 0.99 is 10^0.9 = 7.9 times rarer than a 0.9;
new extremes and spikes score 1. ``z_score`` is the signed deviation from the daily model
in robust standard deviations. Nothing alarms before 600 points *and* a day of data.

A level shift is one episode: the first shifted point alarms (as a new extreme, a spike
or, within 20 points, as a sustained deviation), the seasonal level re-learns after 10
points in a row beyond 3 deviations, and the averaged deviation is back to normal 20
points later, inside the 50-point rest. So the model has re-learnt a new level within 30
points and reports it once.

How it was chosen: leave-one-NAB-category-out over an earlier grid of configurations and
70 thresholds (:mod:`aiops.evaluation.selection`), among choices with at most 0.5 false
episodes per series-month on synthetic clean series; this one won on all four
categories. BENCHMARKS.md has the cross-validated figure and the per-category ones.

>>> import numpy as np
>>> t = np.arange(0, 10 * 86400, 300.0)                       # ten days, 5-minute points
>>> values = 50 + 20 * np.sin(2 * np.pi * t / 86400) + np.random.default_rng(0).normal(0, 1, t.size)
>>> values[2000:] += 15                                         # a level shift inside the daily range
>>> detector = SeasonalLikelihoodDetector(SeasonalLikelihoodDetector.Config())
>>> alarms = np.flatnonzero(detector.score_series(values, t).score >= detector.config.threshold)
>>> alarms.tolist()
[2000]
"""

from __future__ import annotations

from pydantic import Field

from models.detectors.calibrated import CalibratedConfig, CalibratedDetector, Member


def point_member(weekly: bool) -> Member:
    """The daily (or weekly) seasonal deviation of each point, averaged over 20 points (slot memory one day)."""
    return Member(detector="seasonal", signal="z", clip=10.0, window=20,
                  config={"slot_halflife_cycles": 1.0, "relearn_after": 10, "weekly": weekly})


class SeasonalLikelihoodConfig(CalibratedConfig):
    threshold: float = Field(0.47, gt=0, lt=1, description="alarm at or above this (tail 10^-4.7 per member pair)")
    members: tuple[Member, ...] = Field((point_member(False), point_member(True)), min_length=1,
                                        description="daily and weekly seasonal deviations")
    range_tolerance: float | None = Field(0.05, ge=0, description="new extremes beyond this share of the range")
    range_min_z: float = Field(5.0, ge=0, description="... that are also this many deviations off")
    spike_z: float | None = Field(10.0, gt=0, description="points this many deviations off, beyond any before")
    rest: int = Field(50, ge=0, description="points after an alarm that cannot alarm again")


class SeasonalLikelihoodDetector(CalibratedDetector):
    """Daily and weekly seasonal deviations through the anomaly likelihood, new extremes, spikes, a rest."""

    name = "seasonal_likelihood"
    Config = SeasonalLikelihoodConfig
