"""The engine as HTTP routers see it: one typed client instead of actor handles.

Routers call :class:`EngineClient` (``context.engine``) and never ``actor.method.remote``
themselves, as the FastAPI template's routes call a ``crud`` module (``tests/deployments/
test_engine_client.py`` holds them to it). Which actor owns a key (a tenant's watchdog shard
and vectorizer, an anomaly's RCA worker) is asked of :class:`~actors.directory.ActorDirectory`
only; an actor that is not running becomes :class:`~aiops.errors.Unavailable` (503 with
``Retry-After``), so every router answers it the same way.

Each method states what the actor returns; the handles themselves are untyped (Ray's), so
this module is where their results get their types.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, cast

import ray

from actors.directory import INCIDENT_MANAGER, RCA_WORKER, VECTORIZER, WATCHDOG_SHARD, ActorDirectory, actor_name
from actors.directory import wake_rca_workers as _wake_rca_workers
from aiops.errors import Unavailable
from aiops.incident.model import Incident
from aiops.incident_memory import IncidentMemory
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway
from aiops.storage.records import WAITED_FOR, RcaRecord, ResolutionMatch

log = logging.getLogger(__name__)

_ACTOR_GONE = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError)


class EngineClient:
    """What routers ask of the engine's actors, each call typed; built once per API replica."""

    def __init__(self, settings: Settings, store: StoreGateway, actors: ActorDirectory) -> None:
        self._settings = settings
        self._store = store
        self._actors = actors

    # -- watchdog shards ---------------------------------------------------------------------

    async def send_feedback(self, tenant_id: str, series_id: int, verdict: str) -> bool:
        """Tell the tenant's watchdog shard a person's verdict on one of its anomalies (a false
        positive makes that series less sensitive). False when the shard is not running: the
        verdict is stored with the anomaly either way, so it is not an error."""
        _, shard = self._actors.owner(WATCHDOG_SHARD, tenant_id)
        if shard is None:
            return False
        await shard.feedback.remote(tenant_id, series_id, verdict)
        return True

    async def swap_detector(self, tenant_id: str, name: str, config: dict[str, Any], chosen_by: str,
                            at: datetime) -> int:
        """Record the tenant's detector choice and swap it live in the tenant's shard; returns
        how many recent points the new detector learned from before taking over.

        Raises :class:`Unavailable` (nothing recorded) when the shard is not running."""
        name_of_shard, shard = self._actors.owner(WATCHDOG_SHARD, tenant_id)
        if shard is None:
            raise Unavailable(f"{name_of_shard} is not running; retry shortly", retry_after=2)
        await self._store.aio.choose_model(tenant_id, "detector", name, json.dumps(config), chosen_by, at)
        return int(await shard.swap_model.remote(tenant_id, name, config))

    # -- vectorizers and the incident memory --------------------------------------------------

    async def swap_embedder(self, tenant_id: str, name: str, config: dict[str, Any], chosen_by: str,
                            at: datetime) -> int:
        """Record the tenant's embedder choice; its vectorizer re-embeds the tenant's resolutions
        with it now. Returns how many were re-embedded.

        Raises :class:`Unavailable` (nothing recorded) when the vectorizer is not running."""
        _, vectorizer = self._actors.owner(VECTORIZER, tenant_id)
        if vectorizer is None:
            raise Unavailable("the tenant's vectorizer is not running; retry shortly", retry_after=2)
        await self._store.aio.choose_model(tenant_id, "embedder", name, json.dumps(config), chosen_by, at)
        return int(await vectorizer.forget_choice.remote(tenant_id))

    async def choose_ranker(self, tenant_id: str, name: str, config: dict[str, Any], chosen_by: str,
                            at: datetime) -> None:
        """Record the tenant's ranker choice: RCA workers read it at each analysis, so that is the swap."""
        await self._store.aio.choose_model(tenant_id, "ranker", name, json.dumps(config), chosen_by, at)

    def incident_memory(self) -> IncidentMemory:
        """The incident memory (remember and search resolutions), embedding through the tenant's vectorizer."""
        return IncidentMemory(self._settings, self._store.aio, self._actors)

    async def search_incident_memory(self, tenant_id: str, query: str,
                                     limit: int) -> tuple[str, list[ResolutionMatch]]:
        """The embedder's name and the tenant's ``limit`` resolutions closest in meaning to ``query``.

        Raises :class:`Unavailable` when the tenant's vectorizer is not running or not answering."""
        try:
            return await self.incident_memory().search(tenant_id, query, limit)
        except (LookupError, ray.exceptions.RayError) as error:
            # Ray's text names processes, nodes and tracebacks: the log gets it (with the request id), not the caller.
            log.warning("incident search failed: %s", error)
            raise Unavailable("incident search is unavailable (the tenant's vectorizer is not answering); "
                              "retry shortly", retry_after=2) from None

    # -- RCA workers --------------------------------------------------------------------------

    async def request_rca(self, tenant_id: str, anomaly_id: str, at: datetime) -> RcaRecord | None:
        """Queue an RCA someone waits for (ahead of the watchdog's own), wake its worker, and
        return the stored request (None if storage lost it)."""
        await self._store.aio.request_rcas(tenant_id, [anomaly_id], at, WAITED_FOR)
        self.wake_rca_workers([anomaly_id])
        return cast(RcaRecord | None, await self._store.aio.get_rca(tenant_id, anomaly_id))

    def wake_rca_workers(self, anomaly_ids: list[str]) -> None:
        """Fire and forget: the workers owning these queued requests look now, not at their next poll."""
        _wake_rca_workers(self._actors, anomaly_ids)

    async def correlations(self, tenant_id: str, service_id: str, depth: int) -> list[dict[str, Any]] | None:
        """Services whose metrics move with ``service_id`` within ``depth`` hops (None: unknown
        service), from the RCA worker owning the tenant's graph, else the next one answering.

        Raises :class:`Unavailable` when no worker answers."""
        for name in self._actors.fail_over(RCA_WORKER, tenant_id):
            worker = self._actors.get(name)
            if worker is None:
                continue
            try:
                return cast(list[dict[str, Any]] | None,
                            await worker.correlations.remote(tenant_id, service_id, depth))
            except _ACTOR_GONE:
                self._actors.forget(name)
        raise Unavailable("no RCA worker is answering; retry shortly", retry_after=2)

    # -- the incident manager -----------------------------------------------------------------

    async def acknowledge_incident(self, tenant_id: str, incident_id: str, by: str) -> Incident:
        """Raises :class:`~aiops.incident.grouping.IncidentNotFound` / ``IncidentConflict`` as the
        manager does (Ray's wrapper is an instance of them), :class:`Unavailable` when it is not
        running or dies during the call."""
        return await self._change_incident("acknowledge", tenant_id, incident_id, by)

    async def resolve_incident(self, tenant_id: str, incident_id: str, by: str) -> Incident:
        """As :meth:`acknowledge_incident`, resolving."""
        return await self._change_incident("resolve", tenant_id, incident_id, by)

    async def _change_incident(self, method: str, tenant_id: str, incident_id: str, by: str) -> Incident:
        name = actor_name(INCIDENT_MANAGER, 0)
        manager = self._actors.get(name)
        if manager is None:
            raise Unavailable("the incident manager is not running; retry shortly", retry_after=2)
        try:
            return cast(Incident, await getattr(manager, method).remote(tenant_id, incident_id, by))
        except _ACTOR_GONE:  # restarting: it rebuilds from storage, so the caller may simply retry
            self._actors.forget(name)
            raise Unavailable("the incident manager is restarting; retry shortly", retry_after=2) from None
