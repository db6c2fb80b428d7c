"""Which ingest batches are stored already: the exactly-once memory of every writer.

A batch (metric points, spans or log records) is identified by a digest of its content; its
row in ``ingested_batches`` is written with it and is what ``tenant_usage`` counts. A digest
seen before is not written again (a client's retry). The ledger keeps the latest batches in
memory: with embedded chDB this process is the only writer, so after loading the last
``cap`` batches at first use the memory is the whole truth; with a ClickHouse server other
processes write too, and a miss is checked in ``ingested_batches``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from aiops.storage.client import ClientPool


class BatchLedger:
    """``(tenant_id, digest)`` of stored batches: a bounded in-memory LRU over ``ingested_batches``."""

    def __init__(self, pool: ClientPool, *, only_writer: bool, cap: int = 200_000) -> None:
        self._pool = pool
        self._only_writer = only_writer
        self.cap = cap
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._loaded = False
        self._lock = threading.Lock()

    def already_stored(self, tenant_id: str, digest: str) -> bool:
        """True when this tenant's batch with this digest was stored before."""
        with self._lock:
            if not self._loaded:
                self._load()
            if (tenant_id, digest) in self._recent:
                return True
        if self._only_writer:
            return False
        with self._pool.borrow() as client:
            return bool(client.query(
                "SELECT count() FROM ingested_batches WHERE tenant_id = {tenant_id:String} "
                "AND digest = {digest:String}", parameters={"tenant_id": tenant_id, "digest": digest},
            ).result_rows[0][0])

    @staticmethod
    def record(client: Client, events: dict[tuple[str, str], int], at: datetime) -> None:
        """Write the ``ingested_batches`` rows of stored batches: ``(tenant, digest) -> events counted``.

        Arrow here too: a row insert would first ask the server for the table's columns."""
        client.insert_arrow("ingested_batches", pa.table({
            "tenant_id": pa.array([tenant for tenant, _ in events], pa.string()),
            "digest": pa.array([digest for _, digest in events], pa.string()),
            "points": pa.array(list(events.values()), pa.uint32()),
            "ingested_at": pa.array([at] * len(events), pa.timestamp("ms", tz="UTC")),
        }))

    def remember(self, keys: Iterable[tuple[str, str]]) -> None:
        """Note batches just written (after :meth:`record` and their rows)."""
        with self._lock:
            for key in keys:
                self._recent[key] = None
            while len(self._recent) > self.cap:
                self._recent.popitem(last=False)

    def _load(self) -> None:
        """Fill the cache with the newest ``cap`` digests of every tenant (this writer serves all)."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT tenant_id, digest FROM ingested_batches ORDER BY ingested_at DESC LIMIT {cap:UInt32}",
                parameters={"cap": self.cap},
            ).result_rows
        for tenant_id, digest in reversed(rows):
            self._recent[(tenant_id, digest)] = None
        self._loaded = True
