"""The live default: seasonal deviations at two time scales, judged by HTM's anomaly likelihood.

What it assumes: a metric is a level plus a daily and a weekly profile plus noise (the
:mod:`~models.detectors.seasonal` model, slot memories of one day), and an incident shows
either at the sampling step (a spike, a jump, a burst) or only over hours (a slow slide to
a level the series does not keep, a day that runs low). What alarms is what *this series*
rarely does (:mod:`~models.detectors.calibrated`):

- a sustained deviation: the signed deviation from the daily model, and from the weekly
  one, averaged over 20 points, whose Gaussian tail probability against the series' own
  history (HTM's anomaly likelihood) is small;
- a slow change: the daily model of 6-hour block means, judged the same way per block (5
  blocks averaged, two weeks of blocks before it speaks, NuPIC's red filter so a lasting
  change alarms at its first block), at the first point after each block; it counts only
  if the series has not alarmed since the start of the block before;
- a new extreme: a value beyond every value seen (by 5 % of the range) that is also at
  least 5 deviations off the daily model; a spike: a point at least 10 deviations off and
  further off than any point before;
- and then a rest: after an alarm, the next 50 points cannot alarm.

``anomaly_score`` is ``-log10(3 x tail) / 10``, the tail being the smallest of the three
members' (times 3, so the stated rarity stays an upper bound): each +0.1 is ten times
rarer, a 0.99 is 10^0.9 = 7.9 times rarer than a 0.9; the default alarms from 0.46, a
member's tail of about 10^-5.1 per side. New extremes and spikes score 1. ``z_score`` is
the signed deviation from the daily model in robust standard deviations. The point
members' likelihood keeps no red filter (NuPIC's rule that only the first of consecutive
red points stays red): the rest already makes one event one alarm, and without the
filter a growing anomaly's score keeps growing instead of stopping at tail 1e-5.

Nothing alarms before 600 points and a day of data; the slow-change member speaks after
two weeks. A level shift of more than about 5 deviations is one episode: the first
shifted point alarms (as a new extreme, a spike or, within 20 points, as a sustained
deviation), the seasonal level re-learns after 10 points in a row beyond 3 deviations, the
averaged deviation is normal again 20 points later, inside the 50-point rest, and the
block member is silenced by that alarm. So a new level is learnt within 30 points and
reported once. A shift of 2.5 to 4 deviations breaks the 10-point runs: the level then
follows with its 300-point half-life and, on a series with weeks of history, may alarm a
second time after the rest (BENCHMARKS.md has the measured cases).

How it was chosen: leave-one-NAB-category-out over 32 configurations and 70 thresholds
(:func:`aiops.evaluation.selection.default_candidates`), among choices with at most 0.5
false episodes per series-month on synthetic clean series; this one is the choice made
on all four categories. BENCHMARKS.md has the cross-validated figure and its folds.

>>> import numpy as np
>>> t = np.arange(0, 10 * 86400, 300.0)                       # ten days, 5-minute points
>>> values = 50 + 20 * np.sin(2 * np.pi * t / 86400) + np.random.default_rng(0).normal(0, 1, t.size)
>>> values[2000:] += 15                                         # a level shift inside the daily range
>>> detector = SeasonalMultiscaleDetector(SeasonalMultiscaleDetector.Config())
>>> np.flatnonzero(detector.score_series(values, t).score >= detector.config.threshold).tolist()
[2000]
>>> t = np.arange(0, 35 * 86400, 300.0)                       # five weeks
>>> values = 50 + 20 * np.sin(2 * np.pi * t / 86400) + np.random.default_rng(1).normal(0, 3, t.size)
>>> values[30 * 288:] += np.linspace(0, 6, t.size - 30 * 288)  # from day 30, a slow slide up (1 sigma a day)
>>> alarms = np.flatnonzero(detector.score_series(values, t).score >= detector.config.threshold)
>>> (alarms - 30 * 288).tolist()         # 1.5 and 4 days into the slide; the point members alone: none
[432, 1152]
"""

from __future__ import annotations

from pydantic import Field

from models.detectors.calibrated import CalibratedConfig, CalibratedDetector, Member
from models.detectors.likelihood import LikelihoodConfig
from models.detectors.seasonal_likelihood import point_member

BLOCK_SECONDS = 6 * 3600
BLOCKS_PER_DAY = 86400 // BLOCK_SECONDS


def _blocks() -> Member:
    return Member(detector="seasonal", signal="z", clip=10.0, window=5, resample_seconds=BLOCK_SECONDS,
                  config={"slot_seconds": BLOCK_SECONDS, "slot_halflife_cycles": 1.0, "relearn_after": 10,
                          "warmup": 24},
                  likelihood=LikelihoodConfig(learning=7 * BLOCKS_PER_DAY, probation=14 * BLOCKS_PER_DAY,
                                              period=BLOCKS_PER_DAY))


class SeasonalMultiscaleConfig(CalibratedConfig):
    threshold: float = Field(0.46, gt=0, lt=1, description="alarm at or above this (a member's tail ~10^-5.1)")
    members: tuple[Member, ...] = Field((point_member(False), point_member(True), _blocks()), min_length=1,
                                        description="daily and weekly point deviations, daily 6-hour block deviation")
    likelihood: LikelihoodConfig = Field(LikelihoodConfig(red_filter=False),
                                         description="the point members' likelihood (no red filter: the rest "
                                                     "makes one event one alarm)")
    range_tolerance: float | None = Field(0.05, ge=0, description="new extremes beyond this share of the range")
    range_min_z: float = Field(5.0, ge=0, description="... that are also this many deviations off")
    spike_z: float | None = Field(10.0, gt=0, description="points this many deviations off, beyond any before")
    rest: int = Field(50, ge=0, description="points after an alarm that cannot alarm again")


class SeasonalMultiscaleDetector(CalibratedDetector):
    """Point deviations (daily, weekly) and a 6-hour block deviation through the likelihood; extremes, spikes."""

    name = "seasonal_multiscale"
    Config = SeasonalMultiscaleConfig
