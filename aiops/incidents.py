"""The incident memory, shared by the API and the RCA workers: store, embed, search.

Resolutions are written first (durable, embedding empty) and embedded second by the
tenant's vectorizer; if no vectorizer answers in ``incidents.embed_timeout_seconds``, the
vectorizer's backlog scan embeds the row later. Searches embed the query with the tenant's
current embedder and compare only with resolutions embedded by that same model.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime

import ray

from actors.directory import VECTORIZER, ActorDirectory, actor_name
from aiops.settings import Settings
from aiops.sharding import shard_for
from aiops.storage.records import KnowledgeMatch, KnowledgeRecord

log = logging.getLogger(__name__)


def kb_id_for(tenant_id: str, incident_id: str, resolution: str) -> str:
    """The same resolution of the same incident posted twice is one entry."""
    key = f"{tenant_id}\x00{incident_id}\x00{resolution.strip()}"
    return "kb-" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def vectorizer_of(settings: Settings, actors: ActorDirectory, tenant_id: str):
    return actors.get(actor_name(VECTORIZER, shard_for(tenant_id, settings.watchdog.shards)))


class IncidentMemory:
    """Async façade (API replicas); :class:`SyncIncidentMemory` is the same for actors' threads."""

    def __init__(self, settings: Settings, store, actors: ActorDirectory) -> None:  # store: gateway.aio
        self._settings = settings
        self._store = store
        self._actors = actors

    async def remember(self, record: KnowledgeRecord) -> KnowledgeRecord:
        await self._store.save_knowledge(record)  # durable before anything else
        vectorizer = vectorizer_of(self._settings, self._actors, record.tenant_id)
        if vectorizer is None:
            return record
        try:
            model, version, vectors = await vectorizer.embed_for_tenant.remote(record.tenant_id, [record.resolution])
        except (ray.exceptions.RayError, TimeoutError) as error:
            log.warning("embedding %s later: %s", record.kb_id, error)
            return record
        embedded = replace(record, embedding=vectors[0].tolist(), embedding_model=model, embedding_version=version)
        await self._store.save_knowledge(embedded)
        return embedded

    async def search(self, tenant_id: str, query: str, limit: int) -> tuple[str, list[KnowledgeMatch]]:
        vectorizer = vectorizer_of(self._settings, self._actors, tenant_id)
        if vectorizer is None:
            raise LookupError("no vectorizer is running for this tenant")
        model, _, vectors = await vectorizer.embed_for_tenant.remote(tenant_id, [query])
        return model, await self._store.search_knowledge(tenant_id, vectors[0].tolist(), model, limit)


def similar_incidents(settings: Settings, store, actors: ActorDirectory, tenant_id: str, query: str) -> list[dict]:
    """For RCA results: the best matching past resolutions, or [] when none can be looked up now."""
    limit = settings.incidents.similar_incidents
    vectorizer = vectorizer_of(settings, actors, tenant_id)
    if limit == 0 or vectorizer is None:
        return []
    try:
        model, _, vectors = ray.get(vectorizer.embed_for_tenant.remote(tenant_id, [query]),
                                    timeout=settings.incidents.embed_timeout_seconds)
    except (ray.exceptions.RayError, TimeoutError) as error:  # never block an RCA on the memory
        log.warning("similar incidents unavailable for %s: %s", tenant_id, error)
        return []
    matches = store.search_knowledge(tenant_id, vectors[0].tolist(), model, limit)
    return [{"incident_id": m.record.incident_id or m.record.kb_id, "resolution": m.record.resolution,
             "similarity": round(m.similarity, 4), "service_id": m.record.service_id,
             "knowledge_base_id": m.record.kb_id}
            for m in matches if m.similarity >= settings.incidents.min_similarity]


def new_record(tenant_id: str, body, created_at: datetime | None = None) -> KnowledgeRecord:
    incident = body.incident_id or ""
    return KnowledgeRecord(
        tenant_id=tenant_id, kb_id=kb_id_for(tenant_id, incident, body.resolution), incident_id=incident,
        service_id=body.service_id, resolution=body.resolution, resolved_by=body.resolved_by,
        time_to_recovery_minutes=body.time_to_recovery_minutes, tags=list(body.tags),
        created_at=created_at or datetime.now(UTC),
    )
