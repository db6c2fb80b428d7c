"""SQL of notifications: channels, the durable outbox, and delivery attempts.

The outbox is written by the incident manager (a row per channel and incident state change, in
the same step that stores the incident) and advanced by the notifier (each attempt writes a newer
version of the row and one attempt row), so a restart of either loses nothing: what is not
``delivered`` or ``failed`` is still due.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiops.storage.client import ClientPool
from aiops.storage.sql import MS as _TS
from aiops.storage.sql import utc

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


@dataclass(frozen=True)
class ChannelRow:
    tenant_id: str
    channel_id: str
    name: str
    type: str
    config: str  # JSON, secrets included
    created_at: datetime


@dataclass(frozen=True)
class OutboxRow:
    """One notification to deliver; ``notification_id`` is its idempotency key."""

    tenant_id: str
    notification_id: str
    channel_id: str
    incident_id: str
    change_kind: str
    seq: int
    change: str  # JSON of the state change (aiops.incident.codec)
    state: str
    attempts: int
    first_attempt_at: datetime | None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None
    last_error: str = ""


@dataclass(frozen=True)
class AttemptRow:
    tenant_id: str
    incident_id: str
    notification_id: str
    channel_id: str
    change_kind: str
    attempt: int
    at: datetime
    status_code: int  # 0: no answer
    outcome: str  # "delivered", "retry", "failed", "refused"
    error: str
    duration_ms: float


_OUTBOX = ("tenant_id", "notification_id", "channel_id", "incident_id", "change_kind", "seq", "change", "state",
           "attempts", "first_attempt_at", "next_attempt_at", "created_at", "delivered_at", "last_error")
_ATTEMPT = ("tenant_id", "incident_id", "notification_id", "channel_id", "change_kind", "attempt", "at",
            "status_code", "outcome", "error", "duration_ms")


def _outbox(row: Sequence[Any]) -> OutboxRow:
    return OutboxRow(row[0], row[1], row[2], row[3], row[4], int(row[5]), row[6], row[7], int(row[8]),
                     _utc_or_none(row[9]), utc(row[10]), utc(row[11]), _utc_or_none(row[12]), row[13])


# Held from counting a tenant's channels to saving a new one (add_channel): with embedded chDB every
# create reaches the one storage owner (a threaded actor), so concurrent creates cannot pass the cap together.
_CHANNEL_CREATE_LOCK = threading.Lock()


class NotificationRepository:
    """``notification_channels``, ``notification_outbox`` and ``notification_attempts``."""

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool

    # -- channels ---------------------------------------------------------------------
    def add_channel(self, channel: ChannelRow, at: datetime, cap: int) -> int | None:
        """Save ``channel`` unless its tenant already has ``cap`` channels: None when saved, else how many it has.

        Counting and saving hold one lock in this process, so concurrent creates never pass the cap
        together when every create comes here (embedded chDB: the storage owner). With a ClickHouse
        server each process checks on its own, so creates racing from two processes may pass it."""
        with _CHANNEL_CREATE_LOCK:
            held = len(self.list_channels(channel.tenant_id))
            if held >= cap:
                return held
            self.save_channel(channel, at)
        return None

    def save_channel(self, channel: ChannelRow, at: datetime) -> None:
        with self._pool.borrow() as client:
            client.insert("notification_channels", [[channel.tenant_id, channel.channel_id, channel.name,
                                                     channel.type, channel.config, channel.created_at, 0, at]],
                          column_names=["tenant_id", "channel_id", "name", "type", "config", "created_at",
                                        "deleted", "version"])

    def list_channels(self, tenant_id: str) -> list[ChannelRow]:
        """The tenant's channels, oldest first (deleted ones left out)."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT tenant_id, channel_id, name, type, config, created_at FROM notification_channels FINAL "
                "WHERE tenant_id = {tenant_id:String} AND deleted = 0 ORDER BY created_at, channel_id",
                parameters={"tenant_id": tenant_id}).result_rows
        return [ChannelRow(r[0], r[1], r[2], r[3], r[4], utc(r[5])) for r in rows]

    def channels_of_type(self, type_: str) -> list[ChannelRow]:
        """Every tenant's channels of one type (the notifier's Alertmanager re-posts)."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT tenant_id, channel_id, name, type, config, created_at FROM notification_channels FINAL "
                "WHERE type = {type:String} AND deleted = 0 ORDER BY tenant_id, channel_id",
                parameters={"type": type_}).result_rows
        return [ChannelRow(r[0], r[1], r[2], r[3], r[4], utc(r[5])) for r in rows]

    def delete_channel(self, tenant_id: str, channel_id: str, at: datetime) -> bool:
        """False when the tenant has no such channel."""
        found = next((c for c in self.list_channels(tenant_id) if c.channel_id == channel_id), None)
        if found is None:
            return False
        with self._pool.borrow() as client:
            client.insert("notification_channels", [[tenant_id, channel_id, found.name, found.type, "{}",
                                                     found.created_at, 1, at]],
                          column_names=["tenant_id", "channel_id", "name", "type", "config", "created_at",
                                        "deleted", "version"])
        return True

    # -- the outbox -------------------------------------------------------------------
    def enqueue_notifications(self, rows: list[OutboxRow], at: datetime) -> None:
        """Write outbox rows (new ones, or newer versions of existing ones)."""
        if not rows:
            return
        with self._pool.borrow() as client:
            client.insert("notification_outbox", [[getattr(r, c) for c in _OUTBOX] + [at] for r in rows],
                          column_names=[*_OUTBOX, "version"])

    def due_notifications(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Pending notifications of every tenant whose next attempt is due, oldest change first."""
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(_OUTBOX)} FROM notification_outbox FINAL WHERE state = {{pending:String}} "
                f"AND next_attempt_at <= {{now:{_TS}}} ORDER BY created_at, incident_id, seq, channel_id "
                "LIMIT {limit:UInt32}", parameters={"pending": PENDING, "now": now, "limit": limit}).result_rows
        return [_outbox(r) for r in rows]

    def incident_notifications(self, tenant_id: str, incident_id: str) -> list[OutboxRow]:
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(_OUTBOX)} FROM notification_outbox FINAL WHERE tenant_id = {{tenant_id:String}} "
                "AND incident_id = {incident_id:String} ORDER BY seq, channel_id",
                parameters={"tenant_id": tenant_id, "incident_id": incident_id}).result_rows
        return [_outbox(r) for r in rows]

    def record_delivery(self, row: OutboxRow, attempt: AttemptRow, at: datetime) -> None:
        """One attempt made: its row, and the outbox row's new version (state, attempts, next time)."""
        with self._pool.borrow() as client:
            client.insert("notification_attempts", [[getattr(attempt, c) for c in _ATTEMPT]],
                          column_names=list(_ATTEMPT))
            client.insert("notification_outbox", [[getattr(row, c) for c in _OUTBOX] + [at]],
                          column_names=[*_OUTBOX, "version"])

    def delivery_attempts(self, tenant_id: str, incident_id: str, limit: int = 500) -> list[AttemptRow]:
        """The incident's delivery attempts, oldest first."""
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(_ATTEMPT)} FROM notification_attempts WHERE tenant_id = {{tenant_id:String}} "
                "AND incident_id = {incident_id:String} ORDER BY at, attempt LIMIT {limit:UInt32}",
                parameters={"tenant_id": tenant_id, "incident_id": incident_id, "limit": limit}).result_rows
        return [AttemptRow(r[0], r[1], r[2], r[3], r[4], int(r[5]), utc(r[6]), int(r[7]), r[8], r[9], float(r[10]))
                for r in rows]


__all__ = ["AttemptRow", "ChannelRow", "NotificationRepository", "OutboxRow", "DELIVERED", "FAILED", "PENDING"]
