"""The incident manager's and the notifier's passes on real chDB and a real HTTP receiver:
grouping from stored anomalies, the outbox, restarts of either losing and repeating nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from aiops.incident.model import EventKind
from aiops.incident.service import IncidentService
from aiops.notify.channels import channel_to_storage, parse_channel
from aiops.notify.sender import Notifier
from aiops.notify.webhook import SIGNATURE_HEADER, verify_signature
from aiops.settings import Settings, load_settings
from aiops.storage.outbox import ChannelRow
from aiops.storage.records import AnomalyRecord, RcaRecord
from aiops.storage.store import Store
from tests.conftest import wait_for
from tests.deployments.test_incidents_live import SECRET, Receiver


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path, notifications={"retry": {"base_seconds": 0.01, "max_delay_seconds": 0.05}})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store(settings)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def episode(service: str, started: datetime, anomaly_id: str) -> AnomalyRecord:
    now = datetime.now(UTC)
    return AnomalyRecord("acme", anomaly_id, service, "latency", 1, {}, "watchdog", "test", 0.9, 5.0, started, now,
                         updated_at=now)


def test_restarts_of_the_manager_and_the_notifier_lose_and_repeat_nothing(settings: Settings, store: Store) -> None:
    now = datetime.now(UTC)
    store.save_topology("acme", [("api", "cart"), ("cart", "db")], "test", now)
    receiver = Receiver()  # down at first
    channel = parse_channel({"name": "ops", "type": "webhook", "url": receiver.url, "secret": SECRET})
    store.save_channel(ChannelRow("acme", "ch-1", "ops", "webhook", orjson.dumps(channel_to_storage(channel)).decode(),
                                  now), now)
    store.upsert_anomalies([episode("db", now - timedelta(minutes=2), "anom-db")])
    store.upsert_anomalies([episode("cart", now - timedelta(minutes=1), "anom-cart")])
    manager = IncidentService(settings, store)
    manager.restore()
    assert manager.run_once() == 2
    [incident] = store.list_incidents("acme").incidents
    assert [m.signal_id for m in incident.members] == ["anom-db", "anom-cart"]
    [due] = store.due_notifications(datetime.now(UTC), 10)
    assert due.change_kind == "opened"

    # The manager restarts: the same anomalies are read again, nothing is opened or queued twice.
    manager = IncidentService(settings, store)
    manager.restore()
    manager.run_once()
    store.upsert_anomalies([episode("api", now, "anom-api")])
    assert manager.run_once() == 1
    [incident] = store.list_incidents("acme").incidents
    assert {m.signal_id for m in incident.members} == {"anom-db", "anom-cart", "anom-api"}
    assert len(store.incident_notifications("acme", incident.incident_id)) == 1

    # The receiver is down: the attempt fails and is rescheduled; the notifier restarts; the receiver comes back.
    notifier = Notifier(settings, store)
    assert notifier.run_once() == 1
    [attempt] = store.delivery_attempts("acme", incident.incident_id)
    assert attempt.outcome == "retry" and attempt.status_code == 0
    notifier.close()
    receiver.start()
    try:
        notifier = Notifier(settings, store)
        wait_for(lambda: notifier.run_once() == 0 and receiver.received, timeout=10, what="the delivery")
        [(headers, body)] = receiver.received
        verify_signature(SECRET, headers[SIGNATURE_HEADER], body, now=datetime.now(UTC).timestamp())
        assert orjson.loads(body)["incident"]["incident_id"] == incident.incident_id
        assert [a.outcome for a in store.delivery_attempts("acme", incident.incident_id)][-1] == "delivered"
        notifier.close()
    finally:
        receiver.stop()


def test_open_incidents_are_re_posted_to_alertmanagers_until_resolved(settings: Settings, store: Store) -> None:
    now = datetime.now(UTC)
    receiver = Receiver().start()
    try:
        channel = parse_channel({"name": "am", "type": "alertmanager", "url": f"http://127.0.0.1:{receiver.port}"})
        store.save_channel(ChannelRow("acme", "ch-am", "am", "alertmanager",
                                      orjson.dumps(channel_to_storage(channel)).decode(), now), now)
        store.upsert_anomalies([episode("db", now, "anom-db")])
        manager = IncidentService(settings, store)
        manager.restore()
        manager.run_once()
        [incident] = store.list_incidents("acme").incidents
        notifier = Notifier(settings, store)
        assert notifier.resend_alertmanager(force=True) == 1
        [(_, body)] = receiver.received
        [alert] = orjson.loads(body)
        assert alert["labels"]["aiops_incident_id"] == incident.incident_id
        assert datetime.fromisoformat(alert["endsAt"]) > now  # valid for a few periods, not resolved
        manager.resolve("acme", incident.incident_id, "alice")
        assert notifier.resend_alertmanager(force=True) == 0  # resolved: no longer re-posted
        notifier.close()
    finally:
        receiver.stop()


def test_a_member_upstream_of_the_root_re_runs_the_analysis_and_moves_the_root_cause(tmp_path: Path) -> None:
    """One RCA per incident, re-run when a new member changes the picture: db joins an incident whose root is
    cart, and cart calls db. The re-run reads db's own analysis, which has cart in its blast radius: the
    incident's root cause and blast radius move to db's, with a timeline event and one notification."""
    settings = load_settings(data_dir=tmp_path, incident_grouping={"rca_rerun_min_seconds": 0})
    store = Store(settings)
    store.migrate()
    try:
        now = datetime.now(UTC)
        store.save_topology("acme", [("api", "cart"), ("cart", "db")], "test", now)
        channel = parse_channel({"name": "ops", "type": "webhook", "url": Receiver().url, "secret": SECRET})
        store.save_channel(ChannelRow("acme", "ch-1", "ops", "webhook",
                                      orjson.dumps(channel_to_storage(channel)).decode(), now), now)
        store.upsert_anomalies([episode("cart", now - timedelta(minutes=2), "anom-cart")])
        manager = IncidentService(settings, store)
        manager.restore()
        manager.run_once()
        [incident] = store.list_incidents("acme").incidents

        def analysed(anomaly_id: str, root: str, blast: list[str]) -> None:
            pending = store.get_rca("acme", anomaly_id)
            assert pending is not None and pending.status == "pending"  # the manager asked for it
            store.save_rca(RcaRecord("acme", anomaly_id, "done", pending.requested_at, datetime.now(UTC),
                                     root_causes=[{"service_id": root, "score": 0.9}],
                                     blast_radius=[{"service_id": s} for s in blast], summary=f"{root} is slow"))

        analysed("anom-cart", "cart", ["api"])
        manager.run_once()
        assert store.get_incident("acme", incident.incident_id).root_cause == "cart"
        store.upsert_anomalies([episode("db", now - timedelta(minutes=1), "anom-db")])
        manager.run_once()  # db joins; cart calls db: the analysis is re-run, on db
        analysed("anom-db", "db", ["cart", "api"])
        manager.run_once()
        stored = store.get_incident("acme", incident.incident_id)
        assert (stored.root_cause, stored.blast_radius, stored.suggested_fix) == ("db", ("cart", "api"), "db is slow")
        [event] = [e for e in stored.timeline if e.kind is EventKind.ROOT_CAUSE_CHANGED]
        assert (event.root_cause, event.previous_root_cause) == ("db", "cart")
        kinds = [n.change_kind for n in store.incident_notifications("acme", incident.incident_id)]
        assert kinds == ["opened", "root_cause_known", "root_cause_changed"]
    finally:
        store.close()


def test_a_burst_larger_than_a_page_within_the_cursor_overlap_is_grouped_whole(tmp_path: Path) -> None:
    """More signals written within CURSOR_OVERLAP than max_signals_per_poll: each pass re-reads the
    seen ones of the overlap and still gets a page of new ones (it used to re-read the same full
    page of seen rows forever)."""
    settings = load_settings(data_dir=tmp_path, incident_grouping={"max_signals_per_poll": 2})
    store = Store(settings)
    store.migrate()
    try:
        now = datetime.now(UTC)
        for i in range(5):
            store.upsert_anomalies([episode(f"svc{i}", now - timedelta(minutes=5 - i), f"anom-{i}")])
        manager = IncidentService(settings, store)
        manager.restore()
        assert [manager.run_once() for _ in range(4)] == [2, 2, 1, 0]
    finally:
        store.close()


class _StoreFailingOnce(Store):
    """Real chDB; the first ``save_incidents`` fails, as when storage is briefly unreachable."""

    failures = 1

    def save_incidents(self, incidents, at):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise ConnectionError("storage unreachable")
        super().save_incidents(incidents, at)


def test_a_pass_that_fails_to_store_is_repeated_from_storage_and_loses_nothing(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    store = _StoreFailingOnce(settings)
    store.migrate()
    try:
        now = datetime.now(UTC)
        store.save_channel(ChannelRow("acme", "ch-1", "ops", "webhook", orjson.dumps(channel_to_storage(parse_channel(
            {"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": SECRET}))).decode(),
            now), now)
        store.upsert_anomalies([episode("db", now - timedelta(minutes=1), "anom-db")])
        manager = IncidentService(settings, store)
        manager.restore()
        with pytest.raises(ConnectionError):
            manager.run_once()
        assert store.list_incidents("acme").incidents == []
        assert manager.run_once() == 1  # the same signal again, grouped from what storage holds
        [incident] = store.list_incidents("acme").incidents
        assert [m.signal_id for m in incident.members] == ["anom-db"]
        [row] = store.incident_notifications("acme", incident.incident_id)
        assert row.change_kind == "opened"
    finally:
        store.close()
