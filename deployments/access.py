"""Who is calling, and may they: credentials to an :class:`Identity`, once per request.

JWTs are verified by :class:`TokenVerifier`; API keys (``Authorization: Bearer isage_…``
or ``X-API-Key``) are hashed and looked up, cached for ``auth.key_cache_seconds`` per
replica so a revocation reaches every replica within that time. Tenants are checked to
exist (a token of an unknown tenant is refused; a super-admin may act before any tenant
exists) and every authenticated request spends a token of its tenant's plan; a key also
spends one of its own ``rate_limit_rps`` bucket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from cachetools import TTLCache
from starlette.requests import Request

from aiops.auth.api_keys import KEY_PREFIX, hash_key, looks_like_key
from aiops.auth.roles import Role
from aiops.auth.tokens import Identity, TokenVerifier
from aiops.errors import Unauthorized
from aiops.settings import PlanSettings, Settings
from aiops.storage.gateway import StoreGateway
from aiops.storage.records import ApiKeyRecord
from deployments.limits import LeasedLimiter

_MISSING = object()


class CachedLookup:
    """Answers (including "none") kept for ``ttl`` seconds; no cache at all when ``ttl`` is 0.

    Concurrent misses of one key share a single fetch: when an entry expires under load,
    the storage owner sees one lookup per replica, not one per request in flight.
    """

    def __init__(self, ttl: float, maxsize: int) -> None:
        self._cache: TTLCache | None = TTLCache(maxsize=maxsize, ttl=ttl) if ttl else None
        self._inflight: dict[str, asyncio.Future] = {}

    async def get(self, key: str, fetch: Callable[[str], Awaitable[Any]]) -> Any:
        if self._cache is None:
            return await fetch(key)
        value = self._cache.get(key, _MISSING)
        if value is not _MISSING:
            return value
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request itself was cancelled
                return await fetch(key)  # the leading request was cancelled: fetch alone
        pending = asyncio.get_running_loop().create_future()
        self._inflight[key] = pending
        try:
            value = await fetch(key)
        except Exception as error:
            pending.set_exception(error)
            pending.exception()  # marked retrieved: there may be no one else waiting
            raise
        except BaseException:
            pending.cancel()
            raise
        finally:
            self._inflight.pop(key, None)
        self._cache[key] = value
        pending.set_result(value)
        return value

    def forget(self, key: str) -> None:
        if self._cache is not None:
            self._cache.pop(key, None)

    def clear(self) -> None:
        if self._cache is not None:
            self._cache.clear()


class TenantDirectory:
    """Tenant id -> plan (None when the tenant does not exist), cached briefly."""

    def __init__(self, settings: Settings, store: StoreGateway) -> None:
        self._settings = settings
        self._store = store
        self._plans = CachedLookup(settings.auth.tenant_cache_seconds, maxsize=10_000)

    async def plan_of(self, tenant_id: str) -> PlanSettings | None:
        name = await self._plans.get(tenant_id, self._store.aio.tenant_plan)
        if name is None:
            return None
        return self._settings.plans.get(name) or self._settings.plans[self._settings.default_plan]

    def forget(self, tenant_id: str) -> None:
        self._plans.forget(tenant_id)


class KeyDirectory:
    """Key hash -> stored key (or None), cached for ``auth.key_cache_seconds``."""

    def __init__(self, settings: Settings, store: StoreGateway) -> None:
        self._store = store
        self._keys = CachedLookup(settings.auth.key_cache_seconds, maxsize=50_000)

    async def find(self, key_hash: str) -> ApiKeyRecord | None:
        return await self._keys.get(key_hash, self._store.aio.find_api_key_by_hash)

    def forget_all(self) -> None:
        self._keys.clear()


def presented_credential(request: Request) -> str:
    """The bearer token or API key of a request; 401 when there is none or it is malformed."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    header = request.headers.get("authorization", "")
    if not header:
        raise Unauthorized("missing Authorization header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return token.strip()


class Authenticator:
    def __init__(self, settings: Settings, store: StoreGateway, verifier: TokenVerifier,
                 limiter: LeasedLimiter) -> None:
        self.tenants = TenantDirectory(settings, store)
        self.keys = KeyDirectory(settings, store)
        self._verifier = verifier
        self._limiter = limiter

    async def authenticate(self, request: Request) -> Identity:
        credential = presented_credential(request)
        if looks_like_key(credential):
            return await self._by_key(credential)
        if credential.startswith(KEY_PREFIX):
            raise Unauthorized("that is a key id, not an API key")
        identity = self._verifier.verify(credential)
        plan = await self.tenants.plan_of(identity.tenant_id)
        if plan is None:
            if identity.role is not Role.SUPER_ADMIN:
                raise Unauthorized(f"tenant {identity.tenant_id!r} does not exist")
            return identity
        await self._limiter.check(f"tenant:{identity.tenant_id}:requests", plan.requests_per_second,
                                  2 * plan.requests_per_second)
        return identity

    async def _by_key(self, api_key: str) -> Identity:
        key = await self.keys.find(hash_key(api_key))
        if key is None:
            raise Unauthorized("invalid API key")
        if key.revoked_at is not None:
            raise Unauthorized("API key revoked")
        if key.expires_at is not None and datetime.now(UTC) >= key.expires_at:
            raise Unauthorized("API key expired")
        plan = await self.tenants.plan_of(key.tenant_id)
        if plan is None:
            raise Unauthorized(f"tenant {key.tenant_id!r} does not exist")
        await self._limiter.check(f"key:{key.key_id}", key.rate_limit_rps, max(1.0, key.rate_limit_rps),
                                  used_key=(key.tenant_id, key.key_id))
        await self._limiter.check(f"tenant:{key.tenant_id}:requests", plan.requests_per_second,
                                  2 * plan.requests_per_second)
        return Identity(tenant_id=key.tenant_id, user_id=key.key_id, role=Role.VIEWER, via="api_key",
                        scope=key.scope, key_id=key.key_id)
