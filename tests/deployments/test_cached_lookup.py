"""The replicas' credential caches: one storage lookup per key however many requests miss at once."""

from __future__ import annotations

import asyncio

import pytest

from deployments.access import CachedLookup


class SlowSource:
    """A lookup that takes a while, counting how often it is asked."""

    def __init__(self, answer: object = "pro", error: Exception | None = None) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self._answer, self._error = answer, error

    async def __call__(self, key: str) -> object:
        self.calls += 1
        await self.release.wait()
        if self._error is not None:
            raise self._error
        return self._answer


def test_concurrent_misses_share_one_fetch() -> None:
    async def scenario() -> None:
        cache, source = CachedLookup(60, maxsize=10), SlowSource()
        waiting = [asyncio.create_task(cache.get("tenant-a", source)) for _ in range(20)]
        await asyncio.sleep(0)  # let every task reach the cache before the lookup returns
        source.release.set()
        assert await asyncio.gather(*waiting) == ["pro"] * 20
        assert source.calls == 1
        assert await cache.get("tenant-a", source) == "pro" and source.calls == 1  # then cached
        assert await cache.get("tenant-b", source) == "pro" and source.calls == 2  # another key fetches

    asyncio.run(scenario())


def test_a_failed_fetch_fails_its_waiters_and_is_not_cached() -> None:
    async def scenario() -> None:
        cache, failing = CachedLookup(60, maxsize=10), SlowSource(error=ConnectionError("owner down"))
        waiting = [asyncio.create_task(cache.get("k", failing)) for _ in range(3)]
        await asyncio.sleep(0)
        failing.release.set()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(o, ConnectionError) for o in outcomes) and failing.calls == 1
        working = SlowSource("enterprise")
        working.release.set()
        assert await cache.get("k", working) == "enterprise"

    asyncio.run(scenario())


def test_a_cancelled_leader_leaves_waiters_to_fetch_themselves() -> None:
    async def scenario() -> None:
        cache, source = CachedLookup(60, maxsize=10), SlowSource()
        leader = asyncio.create_task(cache.get("k", source))
        await asyncio.sleep(0)
        follower = asyncio.create_task(cache.get("k", source))
        await asyncio.sleep(0)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        source.release.set()
        assert await follower == "pro" and source.calls == 2

    asyncio.run(scenario())


def test_no_ttl_means_no_cache() -> None:
    async def scenario() -> None:
        cache, source = CachedLookup(0, maxsize=10), SlowSource()
        source.release.set()
        for _ in range(3):
            assert await cache.get("k", source) == "pro"
        assert source.calls == 3

    asyncio.run(scenario())
