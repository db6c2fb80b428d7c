"""The engine's clock: the system clock's readings, and the manual clock tests move by hand."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aiops.clock import SYSTEM_CLOCK, Clock, ManualClock, SystemClock


def test_the_system_clock_reads_aware_utc_and_a_monotonic_time():
    before = datetime.now(UTC)
    now = SYSTEM_CLOCK.now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)
    first = SYSTEM_CLOCK.monotonic()
    assert abs(first - time.monotonic()) < 1.0
    assert SYSTEM_CLOCK.monotonic() >= first
    assert isinstance(SystemClock(), Clock) and isinstance(ManualClock(), Clock)


def test_a_manual_clock_moves_only_when_told_and_both_readings_together():
    clock = ManualClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2026, 3, 1, 12, tzinfo=UTC)
    clock.advance(timedelta(minutes=5))
    clock.advance(1.5)
    assert clock.now() == datetime(2026, 3, 1, 12, 5, 1, 500000, tzinfo=UTC)
    assert clock.monotonic() == pytest.approx(301.5)


def test_a_manual_clock_refuses_naive_times_and_going_backwards():
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))
    clock = ManualClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    clock.set(datetime(2025, 12, 31, 23, tzinfo=timezone(timedelta(hours=-1))))  # a stepped wall clock
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    assert clock.monotonic() == 0.0
