"""Storage: ClickHouse through clickhouse-connect (embedded chDB or a server)."""

from aiops.storage.client import StorageUnavailable
from aiops.storage.gateway import STORAGE_OWNER_NAME, StoreGateway
from aiops.storage.store import Store

__all__ = ["STORAGE_OWNER_NAME", "StorageUnavailable", "Store", "StoreGateway"]
