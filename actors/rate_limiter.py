"""``rate-limiter-0``: the token buckets every API replica shares.

Replicas lease small batches of tokens (a few tens of milliseconds' worth) and spend
them locally, so most requests never call this actor, yet no more than the bucket allows
is admitted cluster-wide. It also collects when each API key was last used and writes
that to storage every few seconds. State is soft: after a restart every bucket starts
full, which errs on the side of admitting.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from aiops.auth.token_bucket import TokenBucket
from aiops.clock import SYSTEM_CLOCK, Clock
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0
MAX_BUCKETS = 100_000  # idle buckets beyond this are dropped (they are full anyway)


class RateLimiter:
    def __init__(self, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock  # monotonic for the buckets' refill; wall time for when a key was last used
        self._store = StoreGateway.for_settings(settings)
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self._uses: dict[tuple[str, str], datetime] = {}
        self._decisions = 0
        self._stopping = threading.Event()
        threading.Thread(target=self._flush_forever, name="flush-key-uses", daemon=True).start()

    def acquire(self, bucket_id: str, rate: float, burst: float, want: int, partial: bool = True,
                used_key: tuple[str, str] | None = None) -> tuple[int, float]:
        """Take up to ``want`` tokens from ``bucket_id``; returns ``(granted, retry_after)``."""
        now = self._clock.monotonic()
        with self._lock:
            bucket = self._buckets.get(bucket_id)
            if bucket is None or bucket.rate != rate or bucket.burst != burst:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._evict_full(now)
                bucket = self._buckets[bucket_id] = TokenBucket(rate, burst, now)
            granted, retry_after = bucket.take(want, now, partial=partial)
            self._decisions += 1
            if used_key is not None:
                self._uses[used_key] = self._clock.now()
        return granted, retry_after

    def _evict_full(self, now: float) -> None:
        for bucket_id, bucket in list(self._buckets.items()):
            bucket._refill(now)  # noqa: SLF001 - a full bucket is the same as a new one
            if bucket.tokens >= bucket.burst:
                del self._buckets[bucket_id]

    def status(self) -> dict:
        with self._lock:
            return {"state": "running", "buckets": len(self._buckets), "decisions": self._decisions}

    def flush(self) -> int:
        """Write pending last-used times; returns how many keys were written."""
        with self._lock:
            uses, self._uses = self._uses, {}
        if not uses:
            return 0
        try:
            self._store.sync.touch_api_keys([(tenant, key, at) for (tenant, key), at in uses.items()])
        except Exception as error:  # storage briefly away: keep them for the next round
            log.warning("could not record API key use: %s", error)
            with self._lock:
                for used, at in uses.items():
                    self._uses.setdefault(used, at)
            return 0
        return len(uses)

    def _flush_forever(self) -> None:
        while not self._stopping.wait(FLUSH_SECONDS):
            self.flush()
