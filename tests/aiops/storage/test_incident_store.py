"""Incident snapshots, the outbox and delivery attempts in real chDB: round trips, filters, tenant scoping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from aiops.clock import ManualClock
from aiops.incident.codec import change_from_dict, change_to_dict
from aiops.incident.graph import ServiceGraph
from aiops.incident.grouping import IncidentGrouper
from aiops.incident.model import IncidentStatus, Severity, Signal, SignalKind
from aiops.incident.settings import IncidentGroupingSettings
from aiops.settings import load_settings
from aiops.storage.outbox import DELIVERED, PENDING, AttemptRow, ChannelRow, OutboxRow
from aiops.storage.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(load_settings(data_dir=tmp_path))
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def grouped(tenant: str):
    clock = ManualClock(T0)
    grouper = IncidentGrouper(tenant, IncidentGroupingSettings(), clock, ServiceGraph({"web": ["db"]}))
    first = grouper.observe(Signal(tenant, "a1", SignalKind.WATCHDOG_EPISODE, "db", T0))
    clock.advance(30)
    grouper.observe(Signal(tenant, "a2", SignalKind.ALERTMANAGER_ALERT, "web", T0, severity=Severity.CRITICAL))
    return grouper, first


def test_snapshots_round_trip_filter_and_stay_in_their_tenant(store: Store) -> None:
    acme, first = grouped("acme")
    globex, _ = grouped("globex")
    store.save_incidents(acme.incidents() + globex.incidents(), T0)
    [incident] = acme.incidents()
    assert store.get_incident("acme", incident.incident_id) == incident
    assert store.get_incident("globex", incident.incident_id) is None  # ids are per tenant
    page = store.list_incidents("acme")
    assert [i.incident_id for i in page.incidents] == [incident.incident_id] and page.total == 1
    assert store.list_incidents("acme", service_id="web").total == 1
    assert store.list_incidents("acme", service_id="cart").total == 0
    assert store.list_incidents("acme", min_severity=int(Severity.CRITICAL)).total == 1
    assert store.list_incidents("acme", status="resolved").total == 0
    acme.resolve(incident.incident_id, "alice")
    store.save_incidents(acme.incidents(), T0 + timedelta(seconds=1))  # a newer version wins
    assert store.get_incident("acme", incident.incident_id).status is IncidentStatus.RESOLVED
    assert store.list_incidents("acme", status="resolved").total == 1
    restored = {i.incident_id for i in store.incidents_to_restore(10)}
    assert incident.incident_id in restored and len(restored) == 2
    # The state change an outbox row carries comes back whole.
    change = first.changes[0]
    assert change_from_dict(orjson.loads(orjson.dumps(change_to_dict(change)))) == change


def test_outbox_moves_from_due_to_delivered_and_keeps_its_attempts(store: Store) -> None:
    store.save_channel(ChannelRow("acme", "ch-1", "ops", "webhook", '{"x": 1}', T0), T0)
    assert [c.channel_id for c in store.list_channels("acme")] == ["ch-1"] and store.list_channels("globex") == []
    row = OutboxRow("acme", "ntf-1", "ch-1", "inc-1", "opened", 0, "{}", PENDING, 0, None, T0, T0)
    store.enqueue_notifications([row], T0)
    assert store.due_notifications(T0 - timedelta(seconds=1), 10) == []
    assert [r.notification_id for r in store.due_notifications(T0, 10)] == ["ntf-1"]
    done = OutboxRow(**{**row.__dict__, "state": DELIVERED, "attempts": 1, "first_attempt_at": T0,
                        "delivered_at": T0})
    store.record_delivery(done, AttemptRow("acme", "inc-1", "ntf-1", "ch-1", "opened", 1, T0, 200, "delivered",
                                           "", 3.0), T0 + timedelta(seconds=1))
    assert store.due_notifications(T0 + timedelta(hours=1), 10) == []
    [attempt] = store.delivery_attempts("acme", "inc-1")
    assert attempt.status_code == 200 and store.delivery_attempts("globex", "inc-1") == []
    assert store.delete_channel("acme", "ch-1", T0 + timedelta(seconds=1)) is True
    assert store.list_channels("acme") == [] and store.delete_channel("acme", "ch-1", T0) is False
