"""Auth overhead per request: JWT verification, API-key checks, rate-limiter decisions.

Runs the engine's own code paths in this process against a real local Ray with the real
storage-owner and rate-limiter actors on a throwaway data dir: ``Authenticator.authenticate``
on real Starlette requests (a JWT, then an API key with a warm cache and leased tokens),
and the limiter actor's ``acquire`` from many concurrent callers.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request

from aiops.auth.api_keys import generate_key
from aiops.auth.roles import Role
from aiops.auth.tokens import TokenVerifier, issue_token
from aiops.bench.report import BenchResult
from aiops.settings import load_settings
from aiops.storage.records import ApiKeyRecord, TenantRecord

SECRET = "bench-" + "s" * 40


def _request(headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/api/v1/status", "headers": raw, "query_string": b""})


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _time(call, requests: list[Request]) -> list[float]:
    samples = []
    for request in requests:
        began = time.perf_counter()
        await call(request)
        samples.append((time.perf_counter() - began) * 1e6)
    return samples


def run(iterations: int = 5000) -> BenchResult:
    import ray

    from actors.rate_limiter import RateLimiter
    from actors.storage_owner import StorageOwner
    from aiops.auth.secrets import prepare_settings
    from aiops.storage.gateway import STORAGE_OWNER_NAME
    from deployments.context import ApiContext

    result = BenchResult("auth")
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as scratch:
        settings = prepare_settings(load_settings(data_dir=Path(scratch) / "data", jwt_secret=SECRET))
        ray.init(address="local", num_cpus=2, include_dashboard=False, namespace=settings.ray.namespace,
                 log_to_driver=False, configure_logging=False)
        try:
            owner: Any = ray.remote(StorageOwner).options(name=STORAGE_OWNER_NAME, max_concurrency=8).remote(settings)
            ray.get(owner.migrate.remote())
            limiter: Any = ray.remote(RateLimiter).options(name="rate-limiter-0", max_concurrency=16).remote(settings)
            ray.get(limiter.status.remote())
            now = datetime.now(UTC)
            ray.get(owner.create_tenant.remote(TenantRecord("bench", "Bench", "enterprise", "", now)))
            new = generate_key()
            ray.get(owner.create_api_key.remote(ApiKeyRecord(
                "bench", new.key_id, "bench", "read", new.prefix, new.key_hash, 1e6, now, "bench")))

            verifier = TokenVerifier(settings, SECRET)
            token = issue_token(SECRET, tenant_id="bench", user_id="u", role=Role.ADMIN, ttl_seconds=600)
            samples = []
            for _ in range(iterations):
                began = time.perf_counter()
                verifier.verify(token)
                samples.append((time.perf_counter() - began) * 1e6)
            p50, p99 = _percentiles(samples)
            result.add("JWT signature and claims check p50", p50, "us")
            result.add("JWT signature and claims check p99", p99, "us")

            context = ApiContext.build(settings)

            async def measure() -> None:
                jwt_requests = [_request({"Authorization": f"Bearer {token}"}) for _ in range(iterations)]
                key_requests = [_request({"X-API-Key": new.api_key}) for _ in range(iterations)]
                await context.auth.authenticate(jwt_requests[0])  # warm the tenant cache and a lease
                await context.auth.authenticate(key_requests[0])
                for label, requests in (("JWT", jwt_requests), ("API key", key_requests)):
                    p50, p99 = _percentiles(await _time(context.auth.authenticate, requests))
                    result.add(f"{label} authentication per request p50", p50, "us",
                               note="tenant check and plan rate limit included")
                    result.add(f"{label} authentication per request p99", p99, "us")

                async def decisions(seconds: float, callers: int) -> float:
                    count = 0
                    deadline = time.perf_counter() + seconds

                    async def caller(index: int) -> None:
                        nonlocal count
                        while time.perf_counter() < deadline:
                            await limiter.acquire.remote(f"bench:{index % 4}", 1e6, 1e6, 1)
                            count += 1

                    began = time.perf_counter()
                    await asyncio.gather(*(caller(i) for i in range(callers)))
                    return count / (time.perf_counter() - began)

                result.add("rate-limiter actor decisions per second", await decisions(3.0, 16), "1/s",
                           note="16 concurrent callers, one process")
                local = context.limiter
                began = time.perf_counter()
                for _ in range(iterations * 10):
                    await local.check("bench:local", 1e9, 1e9)
                rate = iterations * 10 / (time.perf_counter() - began)
                result.add("leased (replica-local) decisions per second", rate, "1/s")

            asyncio.run(measure())
        finally:
            ray.shutdown()
    return result
