"""SQL of the incident memory: resolutions, their embeddings, and similarity search.

Parameterised, ``tenant_id`` in every predicate, ``FINAL`` on replacing tables.
Similarity is cosine, computed by ClickHouse over ``Array(Float32)`` embeddings of one
embedding model (vectors of different models are not comparable).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiops.storage.client import ClientPool
from aiops.storage.records import Resolution, ResolutionMatch
from aiops.storage.sql import utc

_RESOLUTION_COLUMNS = ("tenant_id", "kb_id", "incident_id", "service_id", "resolution", "resolved_by",
                       "time_to_recovery_minutes", "tags", "embedding", "embedding_model", "embedding_version",
                       "created_at", "updated_at")


class IncidentMemoryRepository:
    """Resolutions (stored in table ``knowledge_base``, ids in ``kb_id``)."""

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool

    @staticmethod
    def _resolution(row: Sequence[Any]) -> Resolution:
        return Resolution(
            tenant_id=row[0], resolution_id=row[1], incident_id=row[2], service_id=row[3], resolution=row[4],
            resolved_by=row[5], time_to_recovery_minutes=row[6], tags=list(row[7]), embedding=list(row[8]),
            embedding_model=row[9], embedding_version=row[10], created_at=utc(row[11]),
        )

    def save_resolution(self, record: Resolution) -> None:
        """Write a resolution (or a new version of it, e.g. with its embedding)."""
        row = [record.tenant_id, record.resolution_id, record.incident_id, record.service_id, record.resolution,
               record.resolved_by, record.time_to_recovery_minutes, record.tags, record.embedding,
               record.embedding_model, record.embedding_version, record.created_at, datetime.now(UTC)]
        with self._pool.borrow() as client:
            client.insert("knowledge_base", [row], column_names=list(_RESOLUTION_COLUMNS))

    def get_resolution(self, tenant_id: str, resolution_id: str) -> Resolution | None:
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(_RESOLUTION_COLUMNS[:-1])} FROM knowledge_base FINAL "
                "WHERE tenant_id = {tenant_id:String} AND kb_id = {kb_id:String}",
                parameters={"tenant_id": tenant_id, "kb_id": resolution_id},
            ).result_rows
        return self._resolution(rows[0]) if rows else None

    def has_resolutions(self, tenant_id: str) -> bool:
        """Whether the tenant has any resolution stored (else an RCA skips embedding its query)."""
        with self._pool.borrow() as client:
            return bool(client.query(
                "SELECT count() > 0 FROM (SELECT 1 FROM knowledge_base WHERE tenant_id = {tenant_id:String} LIMIT 1)",
                parameters={"tenant_id": tenant_id}).result_rows[0][0])

    def resolution_backlog_tenants(self, default_model: str) -> list[str]:
        """Tenants with a resolution lacking an embedding of their embedder in force (the chosen
        one, else ``default_model``): across tenants, for the vectorizers' backlog scan, at most
        two small queries however many tenants there are (a join would cost 4x at idle)."""
        with self._pool.borrow() as client:
            present = client.query(
                "SELECT DISTINCT tenant_id, embedding_model FROM knowledge_base FINAL").result_rows
            if not present:
                return []
            chosen = {row[0]: row[1] for row in client.query(
                "SELECT tenant_id, argMax(name, chosen_at) FROM model_choices WHERE kind = 'embedder' "
                "GROUP BY tenant_id").result_rows}
        return sorted({tenant for tenant, model in present if model != chosen.get(tenant, default_model)})

    def resolutions_to_embed(self, tenant_id: str, model: str, limit: int) -> list[Resolution]:
        """A tenant's resolutions without an embedding of ``model`` (new, or made by another model)."""
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(_RESOLUTION_COLUMNS[:-1])} FROM knowledge_base FINAL "
                "WHERE tenant_id = {tenant_id:String} AND embedding_model != {model:String} "
                "ORDER BY created_at LIMIT {limit:UInt32}",
                parameters={"tenant_id": tenant_id, "model": model, "limit": limit},
            ).result_rows
        return [self._resolution(row) for row in rows]

    def search_resolutions(self, tenant_id: str, vector: list[float], model: str, limit: int) -> list[ResolutionMatch]:
        """The tenant's resolutions most similar (cosine) to ``vector``, embedded by ``model``."""
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(_RESOLUTION_COLUMNS[:-1])}, "
                "1 - cosineDistance(embedding, {vector:Array(Float32)}) AS similarity "
                "FROM knowledge_base FINAL WHERE tenant_id = {tenant_id:String} "
                "AND embedding_model = {model:String} AND length(embedding) = length({vector:Array(Float32)}) "
                "ORDER BY similarity DESC, kb_id LIMIT {limit:UInt32}",
                parameters={"tenant_id": tenant_id, "vector": vector, "model": model, "limit": limit},
            ).result_rows
        return [ResolutionMatch(self._resolution(row[:-1]), float(row[-1])) for row in rows]
