"""A token bucket with an injected clock: the rate limiter's arithmetic, nothing else.

>>> bucket = TokenBucket(rate=2.0, burst=2.0, now=0.0)
>>> bucket.take(2, now=0.0)
(2, 0.0)
>>> bucket.take(1, now=0.0)
(0, 0.5)
>>> bucket.take(1, now=0.5)
(1, 0.0)
"""

from __future__ import annotations

import math


class TokenBucket:
    """Refills at ``rate`` tokens per second up to ``burst``; starts full."""

    __slots__ = ("rate", "burst", "tokens", "updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, want: int, now: float, *, partial: bool = True) -> tuple[int, float]:
        """Grant up to ``want`` whole tokens (all or none unless ``partial``).

        Returns ``(granted, retry_after_seconds)``; ``retry_after`` is 0 when anything was
        granted, else the wait until enough tokens exist (infinite if ``want`` > burst).
        """
        self._refill(now)
        available = math.floor(self.tokens + 1e-9)
        granted = min(want, available) if partial else (want if available >= want else 0)
        if granted > 0:
            self.tokens -= granted
            return granted, 0.0
        needed = 1 if partial else want
        if needed > self.burst:
            return 0, math.inf
        return 0, (needed - self.tokens) / self.rate
