"""Incidents and notifications through the running engine (#18): grouping, the API, signed webhooks,
delivery across a receiver outage and a notifier restart, the loop guard, the reference payload.

Watchdog episodes are written to storage as the watchdog writes them (the shards' own path
into the anomalies table); alerts come in over 9093; receivers are real HTTP servers.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from aiops.auth.roles import Role
from aiops.notify.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_signature
from aiops.storage.gateway import StoreGateway
from aiops.storage.records import AnomalyRecord
from tests.conftest import RunningEngine, free_port, wait_for
from tests.deployments.test_alerts import REFERENCE, WEBHOOK
from tests.deployments.test_anomalies import new_tenant

pytestmark = pytest.mark.engine

SECRET = "whsec-" + "s" * 26
CALLS = [("web", "api"), ("api", "cart"), ("cart", "db"), ("checkout", "cart"), ("mobile", "cart"),
         ("search", "index"), ("index", "disk")]


class Receiver:
    """A real webhook receiver on a port of its own; it can be stopped and started again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def kinds(self) -> list[str]:
        import orjson

        return [orjson.loads(body)["change"]["kind"] for _, body in self.received]


def admin(engine: RunningEngine, tenant: str) -> dict[str, str]:
    return engine.auth(tenant=tenant, role=Role.ADMIN)


def topology_tenant(engine: RunningEngine) -> str:
    tenant = new_tenant(engine)
    response = engine.http.put("/api/v1/topology", json={"edges": [{"caller": a, "callee": b} for a, b in CALLS]},
                               headers=admin(engine, tenant))
    assert response.status_code == 200, response.text
    return tenant


def episode(tenant: str, service: str, started: datetime, anomaly_id: str | None = None) -> AnomalyRecord:
    """A watchdog episode as the watchdog stores it (source watchdog, still anomalous now)."""
    now = datetime.now(UTC)
    return AnomalyRecord(tenant, anomaly_id or f"anom-{secrets.token_hex(8)}", service, "latency_p95_ms", 1, {},
                         "watchdog", "test", 0.97, 6.0, started, now, updated_at=now)


def alert(tenant: str, service: str, started: datetime, **labels) -> dict:
    return {"alerts": [{"status": "firing", "labels": {"alertname": "HighLatency", "service_id": service,
                                                       "severity": "critical", "tenant_id": tenant, **labels},
                        "annotations": {"summary": f"{service} slow"}, "startsAt": started.isoformat(),
                        "endsAt": "0001-01-01T00:00:00Z"}]}


def incidents(engine: RunningEngine, tenant: str, **params) -> dict:
    response = engine.http.get("/api/v1/incidents", params=params, headers=engine.auth(tenant=tenant,
                                                                                          role=Role.VIEWER))
    assert response.status_code == 200, response.text
    return response.json()


def live(engine: RunningEngine, tenant: str) -> list[dict]:
    """The tenant's incidents, less those merged into another (each is resolved, pointing at the one it joined)."""
    return [i for i in incidents(engine, tenant)["incidents"] if i["merged_into"] is None]


def webhook_channel(engine: RunningEngine, tenant: str, url: str) -> str:
    response = engine.http.post("/api/v1/notifications/channels", headers=admin(engine, tenant),
                                json={"name": "ops hook", "type": "webhook", "url": url, "secret": SECRET})
    assert response.status_code == 201, response.text
    return response.json()["channel_id"]


def test_a_cascading_fault_is_one_incident_and_an_unrelated_one_another(engine: RunningEngine) -> None:
    tenant = topology_tenant(engine)
    store = StoreGateway.for_settings(engine.settings).sync
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    # The root (db), three slowed callers, and far away at the same time an unrelated fault (disk).
    store.upsert_anomalies([episode(tenant, "db", t0)])
    store.upsert_anomalies([episode(tenant, s, t0 + timedelta(seconds=30 * i))
                            for i, s in enumerate(("cart", "api", "checkout"), 1)])
    store.upsert_anomalies([episode(tenant, "disk", t0 + timedelta(seconds=20))])
    response = engine.webhook.post(WEBHOOK, json=alert(tenant, "web", t0 + timedelta(seconds=150)))
    assert response.status_code == 200, response.text

    def grouped() -> list[dict] | None:
        found = live(engine, tenant)
        return found if sum(i["members"] for i in found) == 6 else None

    found = wait_for(grouped, timeout=30, interval=0.25, what="six signals grouped")
    by_size = sorted(found, key=lambda i: i["members"])
    timelines = [engine.http.get(f"/api/v1/incidents/{i['incident_id']}", headers=admin(engine, tenant)).json()
                 ["timeline"] for i in by_size]
    assert [i["members"] for i in by_size] == [1, 5], ([i["services"] for i in by_size], timelines)
    assert by_size[1]["services"] == ["api", "cart", "checkout", "db", "web"] and by_size[0]["services"] == ["disk"]
    assert by_size[1]["severity"] == "critical" and by_size[1]["status"] == "open"
    assert incidents(engine, tenant, service_id="disk")["total"] == 1
    assert incidents(engine, tenant, min_severity="critical")["total"] == 1
    page = incidents(engine, tenant, limit=1)
    assert len(page["incidents"]) == 1 and page["page_token"]
    assert incidents(engine, tenant, limit=1, page_token=page["page_token"])["incidents"][0]["incident_id"] != \
        page["incidents"][0]["incident_id"]
    detail = engine.http.get(f"/api/v1/incidents/{by_size[1]['incident_id']}", headers=admin(engine, tenant)).json()
    assert [m["service_id"] for m in detail["member_signals"]][0] == "db"
    assert detail["timeline"][0]["kind"] == "opened" and detail["rca"]["anomaly_id"] == \
        detail["member_signals"][0]["signal_id"]
    # Another tenant sees none of it.
    other = engine.http.get(f"/api/v1/incidents/{by_size[1]['incident_id']}", headers=admin(engine, "globex"))
    assert other.status_code == 404 and "not found" in other.json()["error"]["message"]


def test_people_acknowledge_and_resolve_and_bad_requests_change_nothing(engine: RunningEngine) -> None:
    tenant = topology_tenant(engine)
    StoreGateway.for_settings(engine.settings).sync.upsert_anomalies([episode(tenant, "index", datetime.now(UTC))])
    [incident] = wait_for(lambda: incidents(engine, tenant)["incidents"], timeout=30, interval=0.25,
                          what="the incident")
    path = f"/api/v1/incidents/{incident['incident_id']}"
    bad = engine.http.patch(path, json={"status": "closed"}, headers=admin(engine, tenant))
    assert bad.status_code == 422 and "status" in bad.json()["error"]["message"]
    assert engine.http.patch(path, json={"status": "resolved"}, headers=admin(engine, "globex")).status_code == 404
    viewer = engine.http.patch(path, json={"status": "resolved"}, headers=engine.auth(tenant=tenant,
                                                                                       role=Role.VIEWER))
    assert viewer.status_code == 403
    acked = engine.http.patch(path, json={"status": "acknowledged"}, headers=admin(engine, tenant))
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "alice@acme.com"
    # A resolution through the resolution webhook names the incident: it is resolved, by whom it says.
    response = engine.http.post("/api/v1/resolutions/webhook", headers=admin(engine, tenant), json={
        "incident_id": incident["incident_id"], "service_id": "index", "resolution": "Rebuilt the index shard.",
        "resolved_by": "bob@acme.com"})
    assert response.status_code == 200, response.text
    done = engine.http.get(path, headers=admin(engine, tenant)).json()
    assert done["status"] == "resolved" and done["resolved_by"] == "bob@acme.com"
    assert [e["kind"] for e in done["timeline"]][-2:] == ["acknowledged", "resolved"]
    again = engine.http.patch(path, json={"status": "acknowledged"}, headers=admin(engine, tenant))
    assert again.status_code == 409 and "resolved" in again.json()["error"]["message"]


def test_channels_are_admin_only_masked_and_checked(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    url = "http://127.0.0.1:9/hooks/T0KEN-abcdef"
    created = engine.http.post("/api/v1/notifications/channels", headers=admin(engine, tenant),
                               json={"name": "ops", "type": "webhook", "url": url, "secret": SECRET})
    assert created.status_code == 201 and created.json()["channel_id"].startswith("ch-")
    listed = engine.http.get("/api/v1/notifications/channels", headers=admin(engine, tenant))
    assert listed.status_code == 200
    assert SECRET not in listed.text and "T0KEN-abcdef" not in listed.text and len(listed.json()["channels"]) == 1
    bad = engine.http.post("/api/v1/notifications/channels", headers=admin(engine, tenant),
                           json={"name": "ops", "type": "webhook", "url": url, "secret": "short"})
    assert bad.status_code == 422 and "secret" in bad.json()["error"]["message"]
    unknown = engine.http.post("/api/v1/notifications/channels", headers=admin(engine, tenant),
                               json={"name": "ops", "type": "pager", "url": url})
    assert unknown.status_code == 422
    metadata = engine.http.post("/api/v1/notifications/channels", headers=admin(engine, tenant),
                                json={"name": "x", "type": "webhook", "url": "http://169.254.169.254/latest",
                                      "secret": SECRET})
    assert metadata.status_code == 422 and "169.254.169.254" in metadata.json()["error"]["message"]
    viewer = engine.auth(tenant=tenant, role=Role.VIEWER)
    assert engine.http.get("/api/v1/notifications/channels", headers=viewer).status_code == 403
    channel_id = created.json()["channel_id"]
    assert engine.http.delete(f"/api/v1/notifications/channels/{channel_id}",
                              headers=admin(engine, "globex")).status_code == 404
    assert engine.http.delete(f"/api/v1/notifications/channels/{channel_id}",
                              headers=admin(engine, tenant)).status_code == 204
    assert engine.http.get("/api/v1/notifications/channels", headers=admin(engine, tenant)).json()["channels"] == []


def test_signed_webhooks_reach_a_receiver_once_per_change_and_verify(engine: RunningEngine) -> None:
    tenant = topology_tenant(engine)
    receiver = Receiver().start()
    try:
        channel_id = webhook_channel(engine, tenant, receiver.url)
        test = engine.http.post(f"/api/v1/notifications/channels/{channel_id}/test", headers=admin(engine, tenant))
        assert test.status_code == 200 and test.json()["delivered"] is True
        receiver.received.clear()
        t0 = datetime.now(UTC)
        store = StoreGateway.for_settings(engine.settings).sync
        store.upsert_anomalies([episode(tenant, "db", t0)])
        store.upsert_anomalies([episode(tenant, s, t0 + timedelta(seconds=5 * i))
                                for i, s in enumerate(("cart", "api", "mobile"), 1)])
        wait_for(lambda: "opened" in receiver.kinds(), timeout=30, interval=0.25, what="the opened notification")
        [incident] = live(engine, tenant)
        for headers, body in receiver.received:
            verify_signature(SECRET, headers[SIGNATURE_HEADER], body, now=time.time())
            assert headers[IDEMPOTENCY_HEADER].startswith("ntf-")
        with pytest.raises(ValueError):
            verify_signature(SECRET, receiver.received[0][0][SIGNATURE_HEADER], receiver.received[0][1] + b" ",
                             now=time.time())
        # Four signals, one incident: one "opened", never one notification per signal.
        assert receiver.kinds().count("opened") == 1
        engine.http.patch(f"/api/v1/incidents/{incident['incident_id']}", json={"status": "resolved"},
                          headers=admin(engine, tenant))
        wait_for(lambda: "resolved" in receiver.kinds(), timeout=30, interval=0.25, what="the resolved notification")
        detail = engine.http.get(f"/api/v1/incidents/{incident['incident_id']}", headers=admin(engine, tenant)).json()
        assert {d["outcome"] for d in detail["deliveries"]} == {"delivered"} and len(detail["deliveries"]) >= 2
    finally:
        receiver.stop()


def test_a_receiver_that_was_down_gets_every_notification_across_a_notifier_restart(engine: RunningEngine) -> None:
    import ray

    from actors.directory import NOTIFIER, actor_name

    tenant = topology_tenant(engine)
    receiver = Receiver()  # not listening yet
    webhook_channel(engine, tenant, receiver.url)
    store = StoreGateway.for_settings(engine.settings).sync
    store.upsert_anomalies([episode(tenant, "disk", datetime.now(UTC))])
    [incident] = wait_for(lambda: incidents(engine, tenant)["incidents"], timeout=30, interval=0.25,
                          what="the incident")
    engine.http.patch(f"/api/v1/incidents/{incident['incident_id']}", json={"status": "resolved"},
                      headers=admin(engine, tenant))

    def failed_attempts() -> int:
        detail = engine.http.get(f"/api/v1/incidents/{incident['incident_id']}", headers=admin(engine, tenant))
        return sum(d["outcome"] == "retry" for d in detail.json()["deliveries"])

    wait_for(lambda: failed_attempts() >= 2, timeout=60, interval=0.25, what="failed attempts while it is down")
    # The notifier dies; Ray restarts it; the outbox in storage still holds everything due.
    ray.kill(ray.get_actor(actor_name(NOTIFIER, 0), namespace=engine.settings.ray.namespace), no_restart=False)
    receiver.start()
    try:
        wait_for(lambda: {"opened", "resolved"} <= set(receiver.kinds()), timeout=90, interval=0.25,
                 what="every notification once the receiver is back")
        keys = [headers[IDEMPOTENCY_HEADER] for headers, _ in receiver.received]
        assert len(set(keys)) == 2
    finally:
        receiver.stop()


def test_the_engines_own_alert_coming_back_joins_its_incident(engine: RunningEngine) -> None:
    tenant = topology_tenant(engine)
    StoreGateway.for_settings(engine.settings).sync.upsert_anomalies([episode(tenant, "search", datetime.now(UTC))])
    [incident] = wait_for(lambda: incidents(engine, tenant)["incidents"], timeout=30, interval=0.25,
                          what="the incident")
    # As Alertmanager hands it back to 9093: the labels the engine posted it with.
    echo = alert(tenant, "search", datetime.now(UTC), aiops_sender=engine.settings.notifications.sender,
                 aiops_incident_id=incident["incident_id"])
    assert engine.webhook.post(WEBHOOK, json=echo).status_code == 200

    def echoed() -> int:
        detail = engine.http.get(f"/api/v1/incidents/{incident['incident_id']}", headers=admin(engine, tenant))
        return detail.json()["echoes"]

    wait_for(echoed, timeout=30, interval=0.25, what="the echo counted on its incident")
    listed = incidents(engine, tenant)
    assert listed["total"] == 1 and listed["incidents"][0]["members"] == 1


def test_the_reference_example_answers_200_on_a_fresh_engine(engine: RunningEngine) -> None:
    """No tenant label, no key: the alert goes to the default tenant, created at start (alerts.default_tenant)."""
    assert engine.settings.alerts.default_tenant == "default"
    response = engine.webhook.post(WEBHOOK, json=REFERENCE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["anomaly_id"].startswith("anom-")
    found = engine.http.get("/api/v1/anomalies", headers=engine.auth(tenant="default", role=Role.VIEWER)).json()
    assert body["anomaly_id"] in {a["anomaly_id"] for a in found["anomalies"]}


ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@pytest.mark.skipif(ALERTMANAGER is None, reason="Debian's prometheus-alertmanager is not installed "
                                                 "(apt-get install prometheus-alertmanager); .ci/run installs it")
def test_a_real_alertmanager_receives_incidents_and_routes_them_and_their_resolution(engine: RunningEngine,
                                                                                      tmp_path: Path) -> None:
    import orjson

    tenant = topology_tenant(engine)
    receiver = Receiver().start()
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: oncall
  group_by: [aiops_incident_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: {receiver.url}
        send_resolved: true
""")
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        wait_for(lambda: api.get("/-/ready").status_code == 200, timeout=30, what="Alertmanager to be ready")
        created = engine.http.post("/api/v1/notifications/channels", headers=admin(engine, tenant),
                                   json={"name": "am", "type": "alertmanager", "url": f"http://127.0.0.1:{port}"})
        assert created.status_code == 201, created.text
        StoreGateway.for_settings(engine.settings).sync.upsert_anomalies([episode(tenant, "db", datetime.now(UTC))])
        [incident] = wait_for(lambda: live(engine, tenant), timeout=30, interval=0.25, what="the incident")

        def routed(status: str) -> dict | None:
            for _, body in receiver.received:
                payload = orjson.loads(body)
                for alert in payload["alerts"]:
                    if alert["labels"].get("aiops_incident_id") == incident["incident_id"] and \
                            alert["status"] == status:
                        return alert
            return None

        firing = wait_for(lambda: routed("firing"), timeout=60, interval=0.25, what="Alertmanager routing it")
        assert firing["labels"]["service_id"] == "db" and firing["labels"]["tenant_id"] == tenant
        assert firing["labels"]["aiops_sender"] == engine.settings.notifications.sender
        assert "summary" in firing["annotations"]
        # It is in Alertmanager's own view too (its v2 API).
        shown = api.get("/api/v2/alerts", params={"filter": f'aiops_incident_id="{incident["incident_id"]}"'}).json()
        assert len(shown) == 1
        engine.http.patch(f"/api/v1/incidents/{incident['incident_id']}", json={"status": "resolved"},
                          headers=admin(engine, tenant))
        wait_for(lambda: routed("resolved"), timeout=60, interval=0.25, what="the resolution routed")
    finally:
        api.close()
        process.terminate()
        process.wait(timeout=10)
        log.close()
        receiver.stop()
