"""ClickHouse connections through clickhouse-connect, for chDB and servers alike.

``chdb://<path>`` opens the embedded engine in this process (one process may own a path);
``http(s)://host:port/database`` talks to a server and creates the database on first use.
A small pool hands each thread its own client, because one client serialises its calls.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client


class StorageUnavailable(RuntimeError):
    """ClickHouse (or the process that owns it) cannot be reached right now."""


def _database_of(dsn: str) -> str | None:
    path = urlparse(dsn).path.strip("/")
    return path or None


def open_client(dsn: str, *, timeout_seconds: float = 30.0) -> Client:
    """One clickhouse-connect client for ``dsn``; creates a server database if it is missing."""
    parsed = urlparse(dsn)
    if parsed.scheme == "chdb":
        Path(parsed.path).mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(dsn=dsn)
    options: dict[str, Any] = {"connect_timeout": min(timeout_seconds, 10.0), "send_receive_timeout": timeout_seconds}
    database = _database_of(dsn)
    try:
        if database:
            bootstrap = clickhouse_connect.get_client(dsn=urlunparse(parsed._replace(path="/default")), **options)
            try:
                bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{database.replace('`', '')}`")
            finally:
                bootstrap.close()
        return clickhouse_connect.get_client(dsn=dsn, **options)
    except Exception as error:  # the driver raises several unrelated types
        raise StorageUnavailable(f"cannot connect to ClickHouse at {parsed.hostname}: {error}") from error


class ClientPool:
    """A fixed set of clients shared by threads; each borrow gets one exclusively."""

    def __init__(self, dsn: str, size: int, *, timeout_seconds: float = 30.0) -> None:
        self._dsn = dsn
        self._timeout = timeout_seconds
        self._idle: queue.LifoQueue[Client] = queue.LifoQueue()
        self._all: list[Client] = []
        self._lock = threading.Lock()
        self._size = size
        # Open one now so a bad DSN fails at start, not on the first request.
        self._idle.put(self._open())

    def _open(self) -> Client:
        client = open_client(self._dsn, timeout_seconds=self._timeout)
        with self._lock:
            self._all.append(client)
        return client

    @contextmanager
    def borrow(self) -> Iterator[Client]:
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                can_open = len(self._all) < self._size
            client = self._open() if can_open else self._idle.get(timeout=self._timeout)
        try:
            yield client
        finally:
            self._idle.put(client)

    def close(self) -> None:
        with self._lock:
            clients, self._all = self._all, []
        for client in clients:
            try:
                client.close()
            except Exception:  # closing is best effort; the lock goes with the process anyway
                pass
