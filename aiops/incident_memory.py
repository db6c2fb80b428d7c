"""The incident memory, shared by the API and the RCA workers: store, embed, search.

One concept, one name: the *incident memory* holds *resolutions* (:class:`~aiops.storage.records.Resolution`:
how people fixed a past incident), found again by meaning for a new one. Stored names stay as
they were (table ``knowledge_base``, column ``kb_id``, retention key ``knowledge_base_days``),
and so does the published API (``POST /api/v1/resolutions/webhook`` answers ``knowledge_base_id``).

Resolutions are written first (durable, embedding empty) and embedded second by the
tenant's vectorizer; if no vectorizer answers in ``incidents.embed_timeout_seconds``, the
vectorizer's backlog scan embeds the row later. Searches embed the query with the tenant's
current embedder and compare only with resolutions embedded by that same model.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import ray

from actors.directory import VECTORIZER, ActorDirectory
from aiops.schemas.alerts import ResolutionIn
from aiops.settings import Settings
from aiops.storage.async_store import AsyncStore
from aiops.storage.records import Resolution, ResolutionMatch
from aiops.storage.store import Store

log = logging.getLogger(__name__)


def resolution_id_for(tenant_id: str, incident_id: str, resolution: str) -> str:
    """The same resolution of the same incident posted twice is one entry."""
    key = f"{tenant_id}\x00{incident_id}\x00{resolution.strip()}"
    return "kb-" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def vectorizer_of(actors: ActorDirectory, tenant_id: str):
    """The handle of the vectorizer that owns the tenant (None when it is not running)."""
    return actors.owner(VECTORIZER, tenant_id)[1]


class IncidentMemory:
    """Remember and search resolutions from async code (API replicas); RCA workers' threads use
    :func:`similar_incidents`."""

    def __init__(self, settings: Settings, store: AsyncStore, actors: ActorDirectory) -> None:
        self._settings = settings
        self._store = store
        self._actors = actors

    async def remember(self, record: Resolution) -> Resolution:
        await self._store.save_resolution(record)  # durable before anything else
        vectorizer = vectorizer_of(self._actors, record.tenant_id)
        if vectorizer is None:
            return record
        try:
            model, version, vectors = await asyncio.wait_for(
                vectorizer.embed_for_tenant.remote(record.tenant_id, [record.resolution]),
                self._settings.incidents.embed_timeout_seconds)
        except (ray.exceptions.RayError, TimeoutError) as error:  # stored: the backlog scan embeds it later
            log.warning("embedding %s later: %s", record.resolution_id, error)
            return record
        embedded = replace(record, embedding=vectors[0].tolist(), embedding_model=model, embedding_version=version)
        await self._store.save_resolution(embedded)
        return embedded

    async def similar(self, tenant_id: str, queries: list[str], root_service: str | None,
                      exclude_incident: str | None = None) -> list[ResolutionMatch]:
        """Past incidents like the one ``queries`` describe (:func:`choose_similar` over the mean embedding);
        [] when the tenant has no memory. Raises ``LookupError`` with no vectorizer running, or Ray's error."""
        memory = self._settings.incidents
        if memory.similar_incidents == 0 or not await self._store.has_resolutions(tenant_id):
            return []
        vectorizer = vectorizer_of(self._actors, tenant_id)
        if vectorizer is None:
            raise LookupError("no vectorizer is running for this tenant")
        model, _, vectors = await vectorizer.embed_for_tenant.remote(tenant_id, list(queries))
        mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        candidates = await self._store.search_resolutions(tenant_id, mean.astype(np.float32).tolist(), model,
                                                        4 * memory.similar_incidents + 1)
        return choose_similar(candidates, self._settings, root_service, exclude_incident)

    async def search(self, tenant_id: str, query: str, limit: int) -> tuple[str, list[ResolutionMatch]]:
        vectorizer = vectorizer_of(self._actors, tenant_id)
        if vectorizer is None:
            raise LookupError("no vectorizer is running for this tenant")
        model, _, vectors = await vectorizer.embed_for_tenant.remote(tenant_id, [query])
        return model, await self._store.search_resolutions(tenant_id, vectors[0].tolist(), model, limit)


def similar_incidents(settings: Settings, store: Store, actors: ActorDirectory, tenant_id: str, queries: list[str],
                      root_service: str | None = None) -> list[dict]:
    """For RCA results: the past resolutions closest to the mean of ``queries``' embeddings
    (alert words and evidence together), or [] when none can be looked up now.

    Ranked by cosine similarity plus ``incidents.same_service_bonus`` when the past incident
    was on the service now ranked the root cause (the same service failing the same way is
    the likeliest repeat); only those reaching ``incidents.min_similarity`` are suggested.
    ``similarity`` in the answer is the plain cosine.
    """
    memory = settings.incidents
    vectorizer = vectorizer_of(actors, tenant_id)
    if memory.similar_incidents == 0 or vectorizer is None:
        return []
    if not store.has_resolutions(tenant_id):  # nothing to find: spare the embedding (~100 ms of CPU)
        return []
    try:
        model, _, vectors = ray.get(vectorizer.embed_for_tenant.remote(tenant_id, list(queries)),
                                    timeout=memory.embed_timeout_seconds)
    except (ray.exceptions.RayError, TimeoutError) as error:  # never block an RCA on the memory
        log.warning("similar incidents unavailable for %s: %s", tenant_id, error)
        return []
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    mean /= max(float(np.linalg.norm(mean)), 1e-12)
    candidates = store.search_resolutions(tenant_id, mean.astype(np.float32).tolist(), model,
                                        4 * memory.similar_incidents)
    return [match_to_dict(m) for m in choose_similar(candidates, settings, root_service)]


def choose_similar(candidates: list[ResolutionMatch], settings: Settings, root_service: str | None,
                   exclude_incident: str | None = None) -> list[ResolutionMatch]:
    """The past incidents worth suggesting, best first: at most ``incidents.similar_incidents``.

    Ranked by cosine similarity plus ``incidents.same_service_bonus`` when the past incident
    was on ``root_service``; only those reaching ``incidents.min_similarity`` are kept, and
    never the resolution of ``exclude_incident`` (an incident is not similar to itself)."""
    memory = settings.incidents

    def rank(match: ResolutionMatch) -> float:
        same = root_service is not None and match.record.service_id == root_service
        return match.similarity + (memory.same_service_bonus if same else 0.0)

    kept = [m for m in candidates if rank(m) >= memory.min_similarity
            and (exclude_incident is None or m.record.incident_id != exclude_incident)]
    return sorted(kept, key=rank, reverse=True)[:memory.similar_incidents]


def match_to_dict(match: ResolutionMatch) -> dict:
    """A suggested past incident as RCA results and incident details show it (``resolution``: its fix)."""
    record = match.record
    return {"incident_id": record.incident_id or record.resolution_id, "resolution": record.resolution,
            "similarity": round(match.similarity, 4), "service_id": record.service_id,
            "knowledge_base_id": record.resolution_id}


def new_record(tenant_id: str, body: ResolutionIn, created_at: datetime | None = None) -> Resolution:
    incident = body.incident_id or ""
    return Resolution(
        tenant_id=tenant_id, resolution_id=resolution_id_for(tenant_id, incident, body.resolution),
        incident_id=incident, service_id=body.service_id, resolution=body.resolution, resolved_by=body.resolved_by,
        time_to_recovery_minutes=body.time_to_recovery_minutes, tags=list(body.tags),
        created_at=created_at or datetime.now(UTC),
    )
