"""Detector state: each tenant's checkpointed detection state and the models chosen for it."""

from __future__ import annotations

from datetime import datetime

from aiops.storage.client import ClientPool
from aiops.storage.sql import utc


class DetectorStateRepository:
    """``detector_checkpoints`` (the latest per tenant wins) and ``model_choices`` (the latest per kind)."""

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool

    def save_checkpoint(self, tenant_id: str, model: str, state: bytes, saved_at: datetime) -> None:
        with self._pool.borrow() as client:
            client.insert("detector_checkpoints", [[tenant_id, model, state, saved_at]],
                          column_names=["tenant_id", "model", "state", "saved_at"])

    def load_checkpoints(self, tenant_ids: list[str]) -> dict[str, tuple[str, bytes, datetime]]:
        """The latest checkpoint of each of these tenants: ``tenant -> (model, state, saved_at)``."""
        if not tenant_ids:
            return {}
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT tenant_id, model, state, saved_at FROM detector_checkpoints FINAL "
                "WHERE tenant_id IN {tenants:Array(String)}",
                parameters={"tenants": tenant_ids}, column_formats={"state": "bytes"},
            ).result_rows
        return {row[0]: (row[1], row[2], utc(row[3])) for row in rows}

    def checkpointed_tenants(self) -> list[str]:
        """Every tenant with detection state saved (a shard picks its own from these)."""
        with self._pool.borrow() as client:
            return [row[0] for row in client.query("SELECT DISTINCT tenant_id FROM detector_checkpoints").result_rows]

    def choose_model(self, tenant_id: str, kind: str, name: str, config: str, chosen_by: str, at: datetime) -> None:
        with self._pool.borrow() as client:
            client.insert("model_choices", [[tenant_id, kind, name, config, chosen_by, at]],
                          column_names=["tenant_id", "kind", "name", "config", "chosen_by", "chosen_at"])

    def model_choices(self, tenant_id: str) -> dict[str, tuple[str, str, datetime]]:
        """The model in force per kind for a tenant: ``kind -> (name, config JSON, chosen_at)``."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT kind, argMax(name, chosen_at), argMax(config, chosen_at), max(chosen_at) "
                "FROM model_choices WHERE tenant_id = {tenant_id:String} GROUP BY kind",
                parameters={"tenant_id": tenant_id},
            ).result_rows
        return {row[0]: (row[1], row[2], utc(row[3])) for row in rows}
