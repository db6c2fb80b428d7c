"""Delivery retries: growing, jittered, bounded waits from an injected random source."""

from __future__ import annotations

import doctest
import random
from datetime import UTC, datetime, timedelta

import pytest

from aiops.notify import retry as module
from aiops.notify.retry import RetryPolicy, parse_retry_after, retryable
from aiops.notify.settings import RetrySettings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def test_waits_double_within_their_jitter_band_up_to_the_cap() -> None:
    policy = RetryPolicy(RetrySettings(base_seconds=2, factor=2, max_delay_seconds=600))
    rng = random.Random(42)
    for retry in range(1, 30):
        ceiling = min(600, 2 * 2 ** (retry - 1))
        waits = [policy.delay(retry, rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 4  # really spread, not a fixed schedule
    assert policy.ceiling(10_000) == 600  # no overflow far out


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    policy = RetryPolicy(RetrySettings())
    schedule = [policy.delay(n, random.Random(7)) for n in range(1, 8)]
    assert schedule == [policy.delay(n, random.Random(7)) for n in range(1, 8)]
    assert schedule != [policy.delay(n, random.Random(8)) for n in range(1, 8)]


def test_attempts_stop_at_the_count_or_the_age() -> None:
    policy = RetryPolicy(RetrySettings(base_seconds=10, factor=2, max_delay_seconds=100, max_attempts=5,
                                       max_age_seconds=250))
    rng = random.Random(1)
    now, attempts, times = T0, 1, [T0]
    while (nxt := policy.next_attempt_at(T0, attempts, now, rng)) is not None:
        times.append(nxt)
        now, attempts = nxt, attempts + 1
    assert len(times) <= 5 and all(t - T0 <= timedelta(seconds=250) for t in times)
    assert policy.next_attempt_at(T0, 5, T0, rng) is None
    assert policy.next_attempt_at(T0, 1, T0 + timedelta(seconds=245), rng) is None  # would start past the age
    with pytest.raises(ValueError):
        policy.delay(0, rng)


def test_retry_after_lengthens_but_never_past_the_cap() -> None:
    policy = RetryPolicy(RetrySettings(base_seconds=1, max_delay_seconds=60))
    assert policy.delay(1, random.Random(0), retry_after=30) == 30
    assert policy.delay(1, random.Random(0), retry_after=10_000) == 60
    assert policy.delay(1, random.Random(0), retry_after=0) <= 1
    assert parse_retry_after("120", T0) == 120
    assert parse_retry_after("Mon, 02 Mar 2026 09:01:00 GMT", T0) == 60
    assert parse_retry_after("soon", T0) is None and parse_retry_after(None, T0) is None


@pytest.mark.parametrize("status, again", [(None, True), (408, True), (429, True), (500, True), (503, True),
                                           (400, False), (401, False), (404, False), (413, False), (200, False)])
def test_which_answers_are_retried(status, again) -> None:
    assert retryable(status) is again
