"""How any process reaches the :class:`~aiops.storage.store.Store`.

Embedded chDB may be opened by one process only, so there the store lives in the named
``storage-owner-0`` actor and everyone calls it; with a ClickHouse server every process opens
its own clients and nothing funnels through one actor. Callers do not care which:

    store = StoreGateway.for_settings(settings)
    tenants = await store.aio.list_all_tenants()     # from async code (Serve, async actors)
    tenants = store.sync.list_all_tenants()          # from sync code (CLI, threaded actors)

Failures to reach storage become :class:`StorageUnavailable` (answered as 503).

``store.sync`` is typed as the Store itself. ``store.aio`` declares, typed, the calls the
engine client (``deployments/engine_client.py``) and the routers it serves make (each the
Store method of that name, awaited; ``tests/aiops/storage/test_gateway_types.py`` holds the
signatures equal); any other Store method is reached untyped until it is declared here.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from aiops.settings import Settings
from aiops.storage.client import StorageUnavailable
from aiops.storage.store import Store

if TYPE_CHECKING:
    from aiops.incident.model import Incident
    from aiops.storage.records import AnomalyPage, AnomalyRecord, RcaRecord, Resolution, ResolutionMatch

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

    @staticmethod
    def check(method: str) -> None:
        if method not in _STORE_METHODS:
            raise AttributeError(f"Store has no method {method!r}")


class AsyncStore:
    """The Store's methods, awaited; those declared below are typed (the Store method's signature)."""

    def __init__(self, gateway: StoreGateway) -> None:
        self._gateway = gateway

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        gateway = self._gateway
        if gateway.in_process:
            return await asyncio.to_thread(getattr(gateway.local_store(), method), *args, **kwargs)
        try:
            return await getattr(gateway.owner(), method).remote(*args, **kwargs)
        except _ray_errors() as error:
            raise StorageUnavailable(f"storage owner unavailable: {type(error).__name__}") from error

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        StoreGateway.check(method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._call(method, *args, **kwargs)

        return call

    # Typed: anomalies
    async def get_anomaly(self, tenant_id: str, anomaly_id: str) -> AnomalyRecord | None:
        return cast("AnomalyRecord | None", await self._call("get_anomaly", tenant_id, anomaly_id))

    async def list_anomalies(self, tenant_id: str, *, service_id: str | None = None, since: datetime | None = None,
                             until: datetime | None = None, min_score: float | None = None, limit: int = 50,
                             after: tuple[datetime, str] | None = None) -> AnomalyPage:
        return cast("AnomalyPage", await self._call(
            "list_anomalies", tenant_id, service_id=service_id, since=since, until=until, min_score=min_score,
            limit=limit, after=after))

    async def upsert_anomalies(self, anomalies: list[AnomalyRecord]) -> None:
        await self._call("upsert_anomalies", anomalies)

    # Typed: model choices
    async def choose_model(self, tenant_id: str, kind: str, name: str, config: str, chosen_by: str,
                           at: datetime) -> None:
        await self._call("choose_model", tenant_id, kind, name, config, chosen_by, at)

    async def model_choices(self, tenant_id: str) -> dict[str, tuple[str, str, datetime]]:
        return cast("dict[str, tuple[str, str, datetime]]", await self._call("model_choices", tenant_id))

    # Typed: RCA requests and results
    async def request_rcas(self, tenant_id: str, anomaly_ids: list[str], at: datetime, priority: int = 0) -> int:
        return cast(int, await self._call("request_rcas", tenant_id, anomaly_ids, at, priority))

    async def get_rca(self, tenant_id: str, anomaly_id: str) -> RcaRecord | None:
        return cast("RcaRecord | None", await self._call("get_rca", tenant_id, anomaly_id))

    # Typed: the incident memory and incidents
    async def save_resolution(self, record: Resolution) -> None:
        await self._call("save_resolution", record)

    async def get_resolution(self, tenant_id: str, resolution_id: str) -> Resolution | None:
        return cast("Resolution | None", await self._call("get_resolution", tenant_id, resolution_id))

    async def search_resolutions(self, tenant_id: str, vector: list[float], model: str,
                               limit: int) -> list[ResolutionMatch]:
        return cast("list[ResolutionMatch]", await self._call("search_resolutions", tenant_id, vector, model, limit))

    async def get_incident(self, tenant_id: str, incident_id: str) -> Incident | None:
        return cast("Incident | None", await self._call("get_incident", tenant_id, incident_id))


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
