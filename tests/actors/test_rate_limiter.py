"""The shared rate limiter's buckets on an injected clock: a spent bucket refills at its rate
as the clock moves, and says how long to wait meanwhile. Time moves by hand; nothing sleeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.rate_limiter import RateLimiter
from aiops.clock import ManualClock
from aiops.settings import load_settings


def test_a_spent_bucket_refills_with_the_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    limiter = RateLimiter(load_settings(data_dir=tmp_path), clock=clock)
    assert limiter.acquire("acme", rate=2.0, burst=2.0, want=2) == (2, 0.0)  # starts full
    assert limiter.acquire("acme", rate=2.0, burst=2.0, want=1) == (0, 0.5)  # empty: one token in 0.5 s
    clock.advance(0.25)
    granted, wait = limiter.acquire("acme", rate=2.0, burst=2.0, want=1)
    assert granted == 0 and wait == pytest.approx(0.25)
    clock.advance(0.25)
    assert limiter.acquire("acme", rate=2.0, burst=2.0, want=1) == (1, 0.0)
    clock.advance(60)  # a long idle refills to the burst, never past it
    assert limiter.acquire("acme", rate=2.0, burst=2.0, want=5) == (2, 0.0)
    assert limiter.acquire("globex", rate=2.0, burst=2.0, want=1) == (1, 0.0)  # buckets are separate
    # All or nothing for a batch larger than what is there; larger than the burst: never.
    assert limiter.acquire("acme", rate=2.0, burst=2.0, want=2, partial=False) == (0, 1.0)
    assert limiter.acquire("acme", rate=2.0, burst=2.0, want=3, partial=False)[1] == float("inf")
