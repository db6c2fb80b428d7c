"""When to try a failed delivery again: exponential backoff with "equal jitter", bounded.

The n-th retry (n = 1 after the first failure) waits a random time in ``[c/2, c]`` where
``c = min(max_delay, base * factor**(n-1))`` ("equal jitter", AWS Architecture Blog,
*Exponential Backoff and Jitter*, 2015): never less than half the backoff, so waits grow
for sure, and spread so receivers coming back are not hit by every sender at once. A
receiver's ``Retry-After`` (429, 503) lengthens a wait, never shortens it, and is capped
at ``max_delay``. No attempt is made past ``max_attempts`` in all or ``max_age`` after the
first one. The random source is injected: tests and replays pass a seeded ``random.Random``.

>>> import random
>>> policy = RetryPolicy(RetrySettings(base_seconds=1, factor=2, max_delay_seconds=10))
>>> [round(policy.delay(n, random.Random(0)), 2) for n in (1, 2, 3, 4, 5, 6)]
[0.92, 1.84, 3.69, 7.38, 9.22, 9.22]
"""

from __future__ import annotations

import email.utils
from datetime import datetime, timedelta
from typing import Protocol

from aiops.notify.settings import RetrySettings


class RandomSource(Protocol):
    def random(self) -> float:
        """A float in [0, 1)."""
        ...


# Answers worth another try: timeouts, "too early", rate limits and server errors. Other 4xx
# mean the request itself is wrong (or the credentials are): retrying cannot help.
RETRYABLE_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))


def retryable(status: int | None) -> bool:
    """Whether a delivery that got ``status`` (None: no answer, a network error or timeout) may be retried."""
    return status is None or status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date, RFC 9110 10.2.3); None if bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


class RetryPolicy:
    """Backoff schedule from :class:`RetrySettings`."""

    def __init__(self, settings: RetrySettings) -> None:
        self.settings = settings

    def ceiling(self, retry: int) -> float:
        """The longest wait before retry ``retry`` (1-based), seconds."""
        s = self.settings
        exponent = min(retry - 1, 64)  # past this the cap has long been reached; avoids overflow
        return min(s.max_delay_seconds, s.base_seconds * s.factor ** exponent)

    def delay(self, retry: int, rng: RandomSource, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``retry`` (1-based): in ``[ceiling/2, ceiling]``, at least ``retry_after``."""
        if retry < 1:
            raise ValueError(f"retry counts from 1, not {retry}")
        cap = self.ceiling(retry)
        wait = cap / 2 + rng.random() * cap / 2
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.settings.max_delay_seconds))
        return wait

    def next_attempt_at(self, first_attempt_at: datetime, attempts: int, now: datetime, rng: RandomSource,
                        retry_after: float | None = None) -> datetime | None:
        """When to try again after ``attempts`` failed attempts (the latest ending at ``now``); None: give up."""
        if attempts >= self.settings.max_attempts:
            return None
        when = now + timedelta(seconds=self.delay(attempts, rng, retry_after))
        if when - first_attempt_at > timedelta(seconds=self.settings.max_age_seconds):
            return None
        return when
