"""API keys: created, listed, found by hash (authentication), revoked, and when last used.

Only a key's SHA-256 hash and a short display prefix are stored, never the key.
``api_keys`` is a ``ReplacingMergeTree`` (revoking writes a new version); when a key was
last used goes to the append-only ``api_key_usage`` so authentication never rewrites a key.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from clickhouse_connect.driver.client import Client

from aiops.storage.client import ClientPool
from aiops.storage.records import ApiKeyRecord
from aiops.storage.sql import Parameters, utc

KEY_COLUMNS = (
    "tenant_id", "key_id", "name", "scope", "prefix", "key_hash", "rate_limit_rps",
    "created_at", "created_by", "expires_at", "revoked_at", "updated_at",
)


def key_from_row(row: Sequence[object], last_used_at: datetime | None = None) -> ApiKeyRecord:
    """A stored key from a row in ``KEY_COLUMNS`` order (``updated_at`` left out)."""
    expires_at, revoked_at = row[9], row[10]
    return ApiKeyRecord(
        tenant_id=str(row[0]), key_id=str(row[1]), name=str(row[2]), scope=str(row[3]), prefix=str(row[4]),
        key_hash=str(row[5]), rate_limit_rps=float(str(row[6])), created_at=utc(_moment(row[7])),
        created_by=str(row[8]),
        expires_at=utc(_moment(expires_at)) if expires_at else None,
        revoked_at=utc(_moment(revoked_at)) if revoked_at else None,
        last_used_at=utc(last_used_at) if last_used_at else None,
    )


def _moment(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime column, got {type(value).__name__}")
    return value


class ApiKeyRepository:
    def __init__(self, pool: ClientPool, registry_lock: threading.Lock) -> None:
        self._pool = pool
        self._registry_lock = registry_lock  # shared with tenants: revoking and offboarding exclude each other

    def write(self, client: Client, key: ApiKeyRecord, updated_at: datetime) -> None:
        """One version of a key, on a client the caller holds (tenant offboarding revokes in its own)."""
        client.insert(
            "api_keys",
            [[key.tenant_id, key.key_id, key.name, key.scope, key.prefix, key.key_hash, key.rate_limit_rps,
              key.created_at, key.created_by, key.expires_at, key.revoked_at, updated_at]],
            column_names=list(KEY_COLUMNS),
        )

    def create(self, key: ApiKeyRecord) -> None:
        with self._pool.borrow() as client:
            self.write(client, key, key.created_at)

    def _keys(self, predicate: str, parameters: Parameters) -> list[ApiKeyRecord]:
        """Keys of one tenant (``parameters`` always binds ``tenant_id``) with their last use."""
        with self._pool.borrow() as client:
            rows = client.query(
                f"""SELECT k.tenant_id, k.key_id, k.name, k.scope, k.prefix, k.key_hash, k.rate_limit_rps,
                           k.created_at, k.created_by, k.expires_at, k.revoked_at, u.last_used_at
                    FROM (SELECT * FROM api_keys FINAL WHERE {predicate}) AS k
                    LEFT JOIN (
                        SELECT tenant_id, key_id, max(last_used_at) AS last_used_at FROM api_key_usage
                        WHERE tenant_id = {{tenant_id:String}}
                        GROUP BY tenant_id, key_id
                    ) AS u ON u.tenant_id = k.tenant_id AND u.key_id = k.key_id
                    ORDER BY k.created_at, k.key_id""",
                parameters=parameters,
                settings={"join_use_nulls": 1},
            ).result_rows
        return [key_from_row(row[:11], row[11]) for row in rows]

    def list(self, tenant_id: str, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        keys = self._keys("tenant_id = {tenant_id:String}", {"tenant_id": tenant_id})
        return keys if include_revoked else [key for key in keys if key.revoked_at is None]

    def get(self, tenant_id: str, key_id: str) -> ApiKeyRecord | None:
        keys = self._keys(
            "tenant_id = {tenant_id:String} AND key_id = {key_id:String}", {"tenant_id": tenant_id, "key_id": key_id}
        )
        return keys[0] if keys else None

    def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key whose hash this is, whichever tenant holds it (authentication's lookup;
        ``last_used_at`` is left out)."""
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(KEY_COLUMNS[:-1])} FROM api_keys FINAL "
                "WHERE key_hash = {key_hash:String} LIMIT 1",
                parameters={"key_hash": key_hash},
            ).result_rows
        return key_from_row(rows[0]) if rows else None

    def revoke(self, tenant_id: str, key_id: str, at: datetime) -> bool:
        """Mark a key revoked; False when the tenant has no such key. Revoking twice is harmless."""
        with self._registry_lock:
            key = self.get(tenant_id, key_id)
            if key is None:
                return False
            if key.revoked_at is None:
                revoked = replace(key, revoked_at=at, last_used_at=None)
                with self._pool.borrow() as client:
                    self.write(client, revoked, at)
            return True

    def touch(self, uses: Sequence[tuple[str, str, datetime]]) -> None:
        """Record when keys were last used: ``(tenant_id, key_id, at)`` rows."""
        if not uses:
            return
        with self._pool.borrow() as client:
            client.insert("api_key_usage", [list(use) for use in uses],
                          column_names=["tenant_id", "key_id", "last_used_at"])
