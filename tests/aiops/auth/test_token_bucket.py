"""The token bucket's arithmetic, with a hand-driven clock."""

from __future__ import annotations

import math

import pytest

from aiops.auth.token_bucket import TokenBucket


def test_starts_full_and_refills_at_rate() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert bucket.take(5, now=0.0) == (5, 0.0)
    granted, wait = bucket.take(1, now=0.0)
    assert granted == 0 and wait == pytest.approx(0.1)
    assert bucket.take(3, now=0.3) == (3, 0.0)
    assert bucket.take(10, now=100.0) == (5, 0.0)  # never beyond burst


def test_all_or_nothing_for_batches() -> None:
    bucket = TokenBucket(rate=100, burst=200, now=0.0)
    assert bucket.take(150, now=0.0, partial=False) == (150, 0.0)
    granted, wait = bucket.take(100, now=0.0, partial=False)
    assert granted == 0 and wait == pytest.approx(0.5)
    assert bucket.take(100, now=0.5, partial=False) == (100, 0.0)
    assert bucket.take(500, now=10.0, partial=False) == (0, math.inf)  # larger than the bucket


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1, now=0)
