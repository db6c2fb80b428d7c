"""The storage layer: every SQL statement the engine runs lives in this class.

Queries are parameterised (``{name:Type}`` server-side binding) and every predicate on a
tenant-owned table names ``tenant_id``; the few methods that read across tenants say so
in their name. Reads of ``ReplacingMergeTree`` tables use ``FINAL`` so an updated row is
seen once. The same class runs in the storage-owner actor (embedded chDB) or in any
process (ClickHouse server); callers reach it through :mod:`aiops.storage.gateway`.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

from aiops.settings import Settings
from aiops.storage.client import ClientPool
from aiops.storage.migrations import migrate
from aiops.storage.records import TenantRecord


def utc(value: datetime) -> datetime:
    """ClickHouse hands back naive datetimes for UTC columns; make them aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def month_start(now: datetime) -> date:
    return date(now.year, now.month, 1)


class Store:
    """All reads and writes of the engine's ClickHouse tables."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool = ClientPool(
            settings.dsn,
            settings.storage.pool_size,
            timeout_seconds=settings.storage.query_timeout_seconds,
        )
        # Makes "create unless it exists" atomic within this process (the owner, in chDB mode).
        self._registry_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._pool.close()

    def ping(self) -> str:
        """The ClickHouse server version; raises when storage does not answer."""
        with self._pool.borrow() as client:
            return str(client.query("SELECT version()").result_rows[0][0])

    def migrate(self) -> list[int]:
        """Apply pending schema migrations and the configured retention."""
        with self._pool.borrow() as client:
            return migrate(client, self._settings.retention)

    # -- tenants ---------------------------------------------------------------------
    def create_tenant(self, tenant: TenantRecord) -> bool:
        """Insert a tenant; False (and nothing written) when the id is already taken."""
        with self._registry_lock, self._pool.borrow() as client:
            exists = client.query(
                "SELECT count() FROM tenants FINAL WHERE tenant_id = {tenant_id:String} AND deleted = 0",
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

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        tenants = self._tenants("AND t.tenant_id = {tenant_id:String}", {"tenant_id": tenant_id})
        return tenants[0] if tenants else None

    def list_all_tenants(self) -> list[TenantRecord]:
        """Every tenant (a super-admin view), oldest first."""
        return self._tenants("", {})

    def _tenants(self, extra_predicate: str, parameters: dict) -> list[TenantRecord]:
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

    # -- anomalies -------------------------------------------------------------------
    def count_anomalies_since(self, since: datetime, tenant_id: str | None) -> int:
        """Anomalies detected since ``since``: one tenant's, or every tenant's when None."""
        predicate = "detected_at >= {since:DateTime64(3, 'UTC')}"
        parameters: dict = {"since": since}
        if tenant_id is not None:
            predicate = "tenant_id = {tenant_id:String} AND " + predicate
            parameters["tenant_id"] = tenant_id
        with self._pool.borrow() as client:
            return int(
                client.query(f"SELECT count() FROM anomalies FINAL WHERE {predicate}", parameters=parameters)
                .result_rows[0][0]
            )
