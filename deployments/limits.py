"""Rate limits as seen from an API replica: leased tokens spent locally.

Each replica asks ``rate-limiter-0`` for a small batch of tokens (about
``LEASE_SECONDS`` of the bucket's rate) and spends them without further calls; a lease
expires after ``LEASE_TTL_SECONDS`` so idle replicas do not hoard tokens. If the limiter
cannot be reached the request is admitted and a warning logged: a restarting limiter must
not take the API down with it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass

from cachetools import TTLCache

from actors.directory import RATE_LIMITER, ActorDirectory, actor_name
from aiops.clock import SYSTEM_CLOCK, Clock
from aiops.errors import RateLimited

log = logging.getLogger(__name__)

LEASE_SECONDS = 0.05
LEASE_TTL_SECONDS = 0.25
LIMITER_TIMEOUT_SECONDS = 2.0


@dataclass
class Lease:
    tokens: int


class LeasedLimiter:
    def __init__(self, actors: ActorDirectory, clock: Clock = SYSTEM_CLOCK) -> None:
        self._actors = actors
        self._clock = clock  # monotonic: lease expiry and how often an unreachable limiter is logged
        self._leases: TTLCache[str, Lease] = TTLCache(maxsize=50_000, ttl=LEASE_TTL_SECONDS, timer=clock.monotonic)
        self._warned_at = -math.inf

    async def check(self, bucket_id: str, rate: float, burst: float, *, cost: int = 1,
                    used_key: tuple[str, str] | None = None) -> None:
        """Admit one request of ``cost`` tokens or raise :class:`RateLimited`."""
        lease = self._leases.get(bucket_id)
        if lease is not None and lease.tokens >= cost:
            lease.tokens -= cost
            return
        # Single requests lease a little extra; a batch (cost > 1) takes exactly its cost.
        want = max(1, math.ceil(rate * LEASE_SECONDS)) if cost == 1 else cost
        granted, retry_after = await self._acquire(bucket_id, rate, burst, want, cost, used_key)
        if granted < cost:
            raise RateLimited(f"rate limit of {rate:g} per second exceeded", retry_after=retry_after)
        self._leases[bucket_id] = Lease(granted - cost)

    async def _acquire(self, bucket_id: str, rate: float, burst: float, want: int, cost: int,
                       used_key: tuple[str, str] | None) -> tuple[int, float]:
        name = actor_name(RATE_LIMITER, 0)
        limiter = self._actors.get(name)
        try:
            if limiter is None:
                raise LookupError(f"{name} is not running")
            # Partial grants are fine for leases of single requests; a batch needs them all.
            return await asyncio.wait_for(
                limiter.acquire.remote(bucket_id, rate, burst, want, cost == 1, used_key),
                LIMITER_TIMEOUT_SECONDS,
            )
        except Exception as error:
            self._actors.forget(name)
            now = self._clock.monotonic()
            if now - self._warned_at > 10:
                log.warning("rate limiter unreachable, admitting requests: %s", error)
                self._warned_at = now
            return want, 0.0
