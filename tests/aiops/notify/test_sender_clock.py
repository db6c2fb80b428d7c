"""The notifier's retry schedule on an injected clock (real chDB, a receiver that is down):
each failed attempt is rescheduled at the clock's now plus the policy's backoff, nothing is
attempted before that time, and the row fails once ``max_attempts`` are spent. Time moves
by hand; nothing sleeps."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from aiops.clock import ManualClock
from aiops.incident.codec import change_to_dict
from aiops.notify import sender
from aiops.notify.channels import channel_to_storage, parse_channel
from aiops.notify.retry import RetryPolicy
from aiops.notify.sender import Notifier
from aiops.settings import Settings, load_settings
from aiops.storage.outbox import FAILED, PENDING, ChannelRow, OutboxRow
from aiops.storage.store import Store
from tests.conftest import free_port

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SEED = 7


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path, notifications={"retry": {
        "base_seconds": 60, "factor": 2, "max_delay_seconds": 600, "max_attempts": 3}})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store(settings)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def test_failed_deliveries_follow_the_backoff_schedule_on_the_clock(settings: Settings, store: Store) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: every attempt fails, retryably
    channel = parse_channel({"name": "ops", "type": "webhook", "url": down, "secret": "s" * 32})
    store.save_channel(ChannelRow("acme", "ch-1", "ops", "webhook",
                                  orjson.dumps(channel_to_storage(channel)).decode(), T0), T0)
    change = sender.test_change("acme", "ch-1", T0)
    store.enqueue_notifications([OutboxRow("acme", "ntf-1", "ch-1", change.incident.incident_id, "opened", 0,
                                           orjson.dumps(change_to_dict(change)).decode(), PENDING, 0, None, T0,
                                           T0)], T0)
    clock = ManualClock(T0)
    notifier = Notifier(settings, store, rng=random.Random(SEED), clock=clock)
    expected = random.Random(SEED)  # the same draws the notifier makes
    policy = RetryPolicy(settings.notifications.retry)
    try:
        assert notifier.run_once() == 1  # due at T0: attempt 1 fails
        for attempt in (1, 2):
            [row] = store.incident_notifications("acme", change.incident.incident_id)
            wait = policy.delay(attempt, expected)
            assert policy.ceiling(attempt) / 2 <= wait <= policy.ceiling(attempt)
            assert row.state == PENDING and row.attempts == attempt
            due = clock.now() + timedelta(seconds=wait)
            assert abs(row.next_attempt_at - due) < timedelta(milliseconds=1)  # stored to the millisecond
            clock.advance(wait - 1)
            assert notifier.run_once() == 0  # a second early: not due
            clock.advance(1)
            assert notifier.run_once() == 1  # due: attempt attempt + 1
        [row] = store.incident_notifications("acme", change.incident.incident_id)
        assert row.state == FAILED and row.attempts == 3 and "gave up after 3 attempts" in row.last_error
        attempts = store.delivery_attempts("acme", change.incident.incident_id)
        assert [a.outcome for a in attempts] == ["retry", "retry", "failed"]
        clock.advance(timedelta(days=1))
        assert notifier.run_once() == 0  # failed rows are never attempted again
    finally:
        notifier.close()


def test_an_unreadable_row_fails_once_and_does_not_hold_up_the_rows_behind_it(settings: Settings,
                                                                              store: Store) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"
    channel = parse_channel({"name": "ops", "type": "webhook", "url": down, "secret": "s" * 32})
    store.save_channel(ChannelRow("acme", "ch-1", "ops", "webhook",
                                  orjson.dumps(channel_to_storage(channel)).decode(), T0), T0)
    change = sender.test_change("acme", "ch-1", T0)
    incident_id = change.incident.incident_id
    store.enqueue_notifications([
        OutboxRow("acme", "ntf-bad", "ch-1", incident_id, "opened", 0, '{"kind": "no-such-change"}', PENDING, 0,
                  None, T0, T0),
        OutboxRow("acme", "ntf-good", "ch-1", incident_id, "opened", 1, orjson.dumps(change_to_dict(change)).decode(),
                  PENDING, 0, None, T0, T0 + timedelta(seconds=1))], T0)
    notifier = Notifier(settings, store, rng=random.Random(SEED), clock=ManualClock(T0))
    try:
        assert notifier.run_once() == 2
        rows = {r.notification_id: r for r in store.incident_notifications("acme", incident_id)}
        assert rows["ntf-bad"].state == FAILED and "unreadable" in rows["ntf-bad"].last_error
        assert rows["ntf-good"].state == PENDING and rows["ntf-good"].attempts == 1  # attempted (receiver down)
        assert notifier.run_once() == 0  # the unreadable row is not attempted again
    finally:
        notifier.close()
