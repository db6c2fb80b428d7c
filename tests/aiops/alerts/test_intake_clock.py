"""The Alertmanager intake on an injected clock (real chDB, no engine): repeat notices land on
one anomaly whose ``last_seen_at`` is the clock's now, watchdog anomalies within the link
window of an alert's start are linked and those outside are not, and a resolved notice
resolves the anomaly. Time moves by hand; nothing sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.alerts.intake import AlertIntake
from aiops.clock import ManualClock
from aiops.schemas.alerts import AlertmanagerPayload
from aiops.settings import Settings, load_settings
from aiops.storage.gateway import StoreGateway
from aiops.storage.records import AnomalyRecord, TenantRecord

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path, alerts={"link_window_minutes": 10})


@pytest.fixture
def gateway(settings: Settings) -> Iterator[StoreGateway]:
    gateway = StoreGateway(settings, in_process=True)
    store = gateway.local_store()
    store.migrate()
    store.create_tenant(TenantRecord("acme", "acme", "pro", "ops@example.com", T0 - timedelta(days=1)))
    try:
        yield gateway
    finally:
        gateway.close()


def watchdog_anomaly(anomaly_id: str, started: datetime) -> AnomalyRecord:
    return AnomalyRecord("acme", anomaly_id, "checkout", "latency", 1, {}, "watchdog", "test", 0.9, 5.0, started,
                         started, updated_at=started)


def payload(status: str, starts_at: datetime, ends_at: datetime | None = None) -> AlertmanagerPayload:
    alert = {"status": status, "labels": {"alertname": "HighLatency", "service": "checkout", "tenant_id": "acme"},
             "startsAt": starts_at.isoformat()}
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    return AlertmanagerPayload.model_validate({"version": "4", "status": status, "receiver": "aiops",
                                               "alerts": [alert]})


def test_repeats_dedupe_links_follow_the_window_and_times_come_from_the_clock(settings: Settings,
                                                                            gateway: StoreGateway) -> None:
    store = gateway.sync
    started = T0 - timedelta(minutes=2)
    store.upsert_anomalies([watchdog_anomaly("anom-inside", started - WINDOW + timedelta(seconds=30)),
                            watchdog_anomaly("anom-outside", started - WINDOW - timedelta(seconds=30))])
    clock = ManualClock(T0)
    queued: list[list[str]] = []
    intake = AlertIntake(settings, gateway.aio, queued=queued.append, clock=clock)

    first = asyncio.run(intake.receive(payload("firing", started)))
    assert first.rca_triggered and first.anomaly_id
    anomaly = store.get_anomaly("acme", first.anomaly_id)
    assert anomaly is not None and anomaly.last_seen_at == T0 and not anomaly.resolved
    [notice] = store.list_alerts("acme", first.anomaly_id)
    assert notice.linked_anomalies == ["anom-inside"]
    assert queued == [[first.anomaly_id]]

    clock.advance(timedelta(minutes=5))  # Alertmanager's repeat notification: the same alert, later
    again = asyncio.run(intake.receive(payload("firing", started)))
    assert again.anomaly_id == first.anomaly_id
    anomaly = store.get_anomaly("acme", first.anomaly_id)
    assert anomaly is not None and anomaly.last_seen_at == T0 + timedelta(minutes=5)

    clock.advance(timedelta(minutes=5))
    ended = T0 + timedelta(minutes=9)
    asyncio.run(intake.receive(payload("resolved", started, ended)))
    anomaly = store.get_anomaly("acme", first.anomaly_id)
    assert anomaly is not None and anomaly.resolved and anomaly.last_seen_at == ended
    assert anomaly.updated_at == T0 + timedelta(minutes=10)
