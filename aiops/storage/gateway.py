"""How any process reaches the :class:`~aiops.storage.store.Store`.

Embedded chDB may be opened by one process only, so there the store lives in the named
``storage-owner-0`` actor and everyone calls it; with a ClickHouse server every process opens
its own clients and nothing funnels through one actor. Callers do not care which:

    store = StoreGateway.for_settings(settings)
    tenants = await store.aio.list_all_tenants()     # from async code (Serve, async actors)
    tenants = store.sync.list_all_tenants()          # from sync code (CLI, threaded actors)

Failures to reach storage become :class:`StorageUnavailable` (answered as 503).

``store.sync`` is typed as the Store itself; ``store.aio`` is
:class:`~aiops.storage.async_store.AsyncStore`, every Store method awaited with the Store's
own signature, so both kinds of callers type-check against one contract.
"""

from __future__ import annotations

import asyncio
import inspect
from functools import cached_property
from typing import Any, cast

from aiops.settings import Settings
from aiops.storage.async_store import AsyncStore
from aiops.storage.client import StorageUnavailable
from aiops.storage.store import Store

STORAGE_OWNER_NAME = "storage-owner-0"

_STORE_METHODS = frozenset(
    name for name, member in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")
)


def _ray_errors() -> tuple[type[BaseException], ...]:
    from ray.exceptions import ActorDiedError, ActorUnavailableError, GetTimeoutError, RayActorError

    return (ActorDiedError, ActorUnavailableError, RayActorError, GetTimeoutError)


class StoreGateway:
    """Calls Store methods in this process or through the storage-owner actor."""

    def __init__(self, settings: Settings, *, in_process: bool) -> None:
        self._settings = settings
        self._in_process = in_process
        self._store: Store | None = None
        self._owner: Any = None

    @classmethod
    def for_settings(cls, settings: Settings) -> StoreGateway:
        """Through the owner actor for embedded chDB, in this process for a server."""
        return cls(settings, in_process=not settings.embedded_storage)

    @property
    def in_process(self) -> bool:
        return self._in_process

    @cached_property
    def aio(self) -> AsyncStore:
        return AsyncStore(self)

    @cached_property
    def sync(self) -> Store:
        """The store's methods, called the same way wherever the store lives (typed as the
        :class:`Store` itself: each call takes and returns what the Store method does)."""
        return cast(Store, _SyncStore(self))

    def local_store(self) -> Store:
        if self._store is None:
            self._store = Store(self._settings)
        return self._store

    def owner(self) -> Any:
        if self._owner is None:
            import ray

            try:
                self._owner = ray.get_actor(STORAGE_OWNER_NAME, namespace=self._settings.ray.namespace)
            except ValueError as error:
                raise StorageUnavailable(f"{STORAGE_OWNER_NAME} is not running") from error
        return self._owner

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    async def call_async(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``Store.<method>(*args, **kwargs)`` from async code: in a worker thread here, or on the owner."""
        if self._in_process:
            return await asyncio.to_thread(getattr(self.local_store(), method), *args, **kwargs)
        try:
            return await getattr(self.owner(), method).remote(*args, **kwargs)
        except _ray_errors() as error:
            raise StorageUnavailable(f"storage owner unavailable: {type(error).__name__}") from error

    @staticmethod
    def check(method: str) -> None:
        if method not in _STORE_METHODS:
            raise AttributeError(f"Store has no method {method!r}")


class _SyncStore:
    def __init__(self, gateway: StoreGateway) -> None:
        self._gateway = gateway

    def __getattr__(self, method: str):
        StoreGateway.check(method)
        gateway = self._gateway

        def call(*args: Any, **kwargs: Any) -> Any:
            if gateway.in_process:
                return getattr(gateway.local_store(), method)(*args, **kwargs)
            import ray

            try:
                return ray.get(getattr(gateway.owner(), method).remote(*args, **kwargs))
            except _ray_errors() as error:
                raise StorageUnavailable(f"storage owner unavailable: {type(error).__name__}") from error

        return call
