"""Tenants: registering, offboarding (keys revoked, id retired), plans, and this month's usage."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

from aiops.storage.api_keys import ApiKeyRepository
from aiops.storage.client import ClientPool
from aiops.storage.records import TenantRecord
from aiops.storage.sql import Parameters, month_start, utc


class TenantRepository:
    """The ``tenants`` registry (a ``ReplacingMergeTree``: the latest version of a tenant wins)."""

    def __init__(self, pool: ClientPool, keys: ApiKeyRepository, registry_lock: threading.Lock) -> None:
        self._pool = pool
        self._keys = keys
        # Makes "create unless it exists" atomic within this process (the owner, in chDB mode).
        self._registry_lock = registry_lock

    def create(self, tenant: TenantRecord) -> bool:
        """Insert a tenant; False (and nothing written) when the id is taken, now or ever before:
        a deleted tenant's id is never given to a new tenant, so nothing of the old one (keys,
        tokens, rows awaiting their retention) can come back to life under it."""
        with self._registry_lock, self._pool.borrow() as client:
            exists = client.query(
                "SELECT count() FROM tenants FINAL WHERE tenant_id = {tenant_id:String}",
                parameters={"tenant_id": tenant.tenant_id},
            ).result_rows[0][0]
            if exists:
                return False
            client.insert(
                "tenants",
                [[tenant.tenant_id, tenant.name, tenant.plan, tenant.contact_email,
                  tenant.created_at, tenant.created_at, 0]],
                column_names=["tenant_id", "name", "plan", "contact_email", "created_at", "updated_at", "deleted"],
            )
            return True

    def delete(self, tenant_id: str, at: datetime) -> bool:
        """Mark a tenant deleted and revoke its API keys (its credentials stop working; its rows
        stay until their TTL; its id is retired). False when there is no such tenant."""
        keys = self._keys.list(tenant_id)  # the unrevoked ones (read before borrowing a client)
        with self._registry_lock, self._pool.borrow() as client:
            rows = client.query(
                "SELECT name, plan, contact_email, created_at FROM tenants FINAL "
                "WHERE tenant_id = {tenant_id:String} AND deleted = 0",
                parameters={"tenant_id": tenant_id},
            ).result_rows
            if not rows:
                return False
            name, plan, email, created = rows[0]
            for key in keys:
                self._keys.write(client, replace(key, revoked_at=at, last_used_at=None), at)
            client.insert("tenants", [[tenant_id, name, plan, email, created, at, 1]],
                          column_names=["tenant_id", "name", "plan", "contact_email", "created_at", "updated_at",
                                        "deleted"])
            return True

    def deleted_at(self, tenant_id: str) -> datetime | None:
        """When the tenant that held this id was deleted (None: never, or no such id)."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT updated_at FROM tenants FINAL WHERE tenant_id = {tenant_id:String} AND deleted = 1",
                parameters={"tenant_id": tenant_id},
            ).result_rows
        return utc(rows[0][0]) if rows else None

    def plan(self, tenant_id: str) -> str | None:
        """The tenant's plan name, or None when there is no such tenant (authentication's check)."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT plan FROM tenants FINAL WHERE tenant_id = {tenant_id:String} AND deleted = 0",
                parameters={"tenant_id": tenant_id},
            ).result_rows
        return str(rows[0][0]) if rows else None

    def get(self, tenant_id: str) -> TenantRecord | None:
        tenants = self._tenants("AND t.tenant_id = {tenant_id:String}", {"tenant_id": tenant_id})
        return tenants[0] if tenants else None

    def list_all(self) -> list[TenantRecord]:
        """Every tenant (a super-admin view), oldest first."""
        return self._tenants("", {})

    def _tenants(self, extra_predicate: str, parameters: Parameters) -> list[TenantRecord]:
        parameters = {**parameters, "month": month_start(datetime.now(UTC))}
        with self._pool.borrow() as client:
            rows = client.query(
                f"""SELECT t.tenant_id, t.name, t.plan, t.contact_email, t.created_at,
                           coalesce(u.points, 0)
                    FROM (SELECT * FROM tenants FINAL WHERE deleted = 0) AS t
                    LEFT JOIN (
                        SELECT tenant_id, sum(points) AS points FROM tenant_usage
                        WHERE month = {{month:Date}} GROUP BY tenant_id
                    ) AS u ON u.tenant_id = t.tenant_id
                    WHERE 1 {extra_predicate}
                    ORDER BY t.created_at, t.tenant_id""",
                parameters=parameters,
            ).result_rows
        return [
            TenantRecord(
                tenant_id=row[0], name=row[1], plan=row[2], contact_email=row[3],
                created_at=utc(row[4]), events_this_month=int(row[5]),
            )
            for row in rows
        ]
