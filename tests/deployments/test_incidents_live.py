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


OUTAGE_SECONDS = 60.0


def utc(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def test_a_receiver_down_for_a_minute_gets_every_notification_once_across_a_notifier_restart(
        engine: RunningEngine) -> None:
    """The receiver is down for over a minute; the notifier is killed (Ray restarts it) while it is down, and
    the incident changes meanwhile. Once back, it gets every notification; deduped by idempotency key, each
    state change exactly once (delivery is at least once: a retry whose answer was lost may repeat a key)."""
    import orjson
    import ray

    from actors.directory import NOTIFIER, actor_name

    retry = engine.settings.notifications.retry
    # The settings this test relies on (small_engine_settings): retries keep coming every few seconds.
    assert retry.max_delay_seconds <= 5 and retry.max_attempts >= 60
    tenant = topology_tenant(engine)
    receiver = Receiver()  # not listening: down from the start
    webhook_channel(engine, tenant, receiver.url)
    down_since = datetime.now(UTC)
    store = StoreGateway.for_settings(engine.settings).sync
    store.upsert_anomalies([episode(tenant, "disk", datetime.now(UTC))])
    [incident] = wait_for(lambda: incidents(engine, tenant)["incidents"], timeout=30, interval=0.25,
                          what="the incident")
    path = f"/api/v1/incidents/{incident['incident_id']}"

    def deliveries() -> list[dict]:
        return engine.http.get(path, headers=admin(engine, tenant)).json()["deliveries"]

    wait_for(lambda: any(d["outcome"] == "retry" for d in deliveries()), timeout=30, interval=0.25,
             what="a failed attempt while the receiver is down")
    # The notifier dies with the receiver down; Ray restarts it; the outbox in storage holds everything due.
    notifier = ray.get_actor(actor_name(NOTIFIER, 0), namespace=engine.settings.ray.namespace)
    ray.kill(notifier, no_restart=False)
    # A change made while the notifier is dead or restarting is enqueued and delivered later all the same.
    resolved = engine.http.patch(path, json={"status": "resolved"}, headers=admin(engine, tenant))
    assert resolved.status_code == 200, resolved.text

    def retried_through_the_outage() -> bool:
        # Both notifications were tried (and failed) by the restarted notifier after a minute of outage.
        late = [d for d in deliveries() if d["outcome"] == "retry"
                and utc(d["at"]) - down_since >= timedelta(seconds=OUTAGE_SECONDS)]
        return {d["change"] for d in late} == {"opened", "resolved"}

    wait_for(retried_through_the_outage, timeout=OUTAGE_SECONDS + 30, interval=1.0,
             what="retries of both notifications a minute into the outage")
    assert datetime.now(UTC) - down_since >= timedelta(seconds=OUTAGE_SECONDS)
    assert ray.get(notifier.status.remote(), timeout=30)["state"] == "running"  # the restarted actor
    receiver.start()
    try:
        expected = {d["notification_id"]: d["change"] for d in deliveries()}
        assert sorted(expected.values()) == ["opened", "resolved"], expected

        def all_arrived() -> dict[str, str] | None:
            got = {headers[IDEMPOTENCY_HEADER]: orjson.loads(body)["change"]["kind"]
                   for headers, body in list(receiver.received)}
            return got if got.keys() >= expected.keys() else None

        # Retries come every max_delay_seconds at most, so the receiver hears within seconds of being back.
        arrived = wait_for(all_arrived, timeout=4 * retry.max_delay_seconds + 10, interval=0.25,
                           what="every notification once the receiver is back")
        assert arrived == expected  # exactly the enqueued keys, each with its own change, nothing else
        # Deduped by key, each state change once; every outbox row ends delivered.
        kinds = sorted(orjson.loads(body)["change"]["kind"]
                       for body in {h[IDEMPOTENCY_HEADER]: b for h, b in receiver.received}.values())
        assert kinds == ["opened", "resolved"]
        for headers, body in receiver.received:
            verify_signature(SECRET, headers[SIGNATURE_HEADER], body, now=time.time())

        def settled() -> bool:
            final = {}
            for d in deliveries():
                final[d["notification_id"]] = d["outcome"]
            return set(final.values()) == {"delivered"}

        wait_for(settled, timeout=10, interval=0.25, what="the delivered attempts recorded")
    finally:
        receiver.stop()


class SlackWebhook(Receiver):
    """Slack's incoming-webhook protocol (https://api.slack.com/messaging/webhooks), as Slack answers it:
    a JSON POST with ``text`` (and optional ``blocks``) to ``/services/T…/B…/<token>`` gets ``200 ok``
    (text/plain); a wrong path is ``404 no_service``, a body that is not JSON or has neither ``text`` nor
    ``blocks`` is ``400 invalid_payload``. The one outside service these tests stand in for."""

    TOKEN = "xoxT0kenSecretPart" + "9" * 8

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T0AIOPS01/B0AIOPS02/{self.TOKEN}"

    def start(self) -> SlackWebhook:
        import orjson

        received, path = self.received, self.url.split(str(self.port), 1)[1]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != path:
                    return self._answer(404, b"no_service")
                try:
                    message = orjson.loads(body)
                except orjson.JSONDecodeError:
                    return self._answer(400, b"invalid_payload")
                if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")) or \
                        not self.headers.get("Content-Type", "").startswith("application/json"):
                    return self._answer(400, b"invalid_payload")
                received.append(({k: v for k, v in self.headers.items()}, body))
                self._answer(200, b"ok")

            def _answer(self, status: int, text: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def messages(self) -> list[dict]:
        import orjson

        return [orjson.loads(body) for _, body in list(self.received)]


def test_a_slack_channel_gets_the_incident_with_its_root_cause_and_never_shows_its_token(
        engine: RunningEngine) -> None:
    import orjson

    from tests.aiops.rca.synthetic import fault
    from tests.deployments.test_anomalies import ingest
    from tests.deployments.test_rca import MINUTE, last_minute, per_minute

    tenant = topology_tenant(engine)
    slack = SlackWebhook().start()
    try:
        created = engine.http.post("/api/v1/notifications/channels", headers=admin(engine, tenant),
                                   json={"name": "oncall slack", "type": "slack", "url": slack.url})
        assert created.status_code == 201, created.text
        listed = engine.http.get("/api/v1/notifications/channels", headers=admin(engine, tenant))
        for answer in (created, listed):  # the token URL is the credential: a prefix only, ever
            assert SlackWebhook.TOKEN not in answer.text and "B0AIOPS02" not in answer.text, answer.text
        [shown] = listed.json()["channels"]
        assert shown["type"] == "slack" and shown["url"].endswith("…") and slack.url.startswith(shown["url"][:-1])
        # The fault: db slows, its callers with it; an alert on db opens the incident, whose RCA finds db.
        end = last_minute()
        ingest(engine, tenant, per_minute(fault(minutes=120, fault_at=100, seed=6), end))
        starts = datetime.fromtimestamp(end - 19 * MINUTE, UTC)
        assert engine.webhook.post(WEBHOOK, json=alert(tenant, "db", starts)).status_code == 200

        def with_root_cause() -> dict | None:
            return next((m for m in slack.messages() if "root cause db" in m["text"]), None)

        message = wait_for(with_root_cause, timeout=90, interval=0.25, what="the Slack message with the root cause")
        [incident] = live(engine, tenant)
        assert incident["root_cause"] == "db"
        detail = engine.http.get(f"/api/v1/incidents/{incident['incident_id']}", headers=admin(engine, tenant))
        rendered = orjson.dumps(message["blocks"]).decode()
        assert incident["incident_id"] in rendered  # the context line names the incident
        assert "*Root cause*\\ndb" in rendered  # the root-cause field
        assert message["text"].startswith("[CRITICAL] Root cause found: db: Critical incident on db")  # the summary
        heads = [m["text"].split("] ", 1)[1].split(":", 1)[0] for m in slack.messages()]
        assert heads[0] == "Incident opened" and heads.count("Root cause found") == 1, heads  # one per change
        slack_ids = {d["channel_id"] for d in detail.json()["deliveries"] if d["outcome"] == "delivered"}
        assert slack_ids == {created.json()["channel_id"]}
    finally:
        slack.stop()


def test_a_later_similar_incident_lists_the_resolved_one_with_its_fix(engine: RunningEngine) -> None:
    """The incident memory is made of resolved incidents: one resolved with a fix through the resolution
    webhook (incident_id) is listed, with that fix, on the next incident like it, and on nothing unlike it."""
    tenant = topology_tenant(engine)
    store = StoreGateway.for_settings(engine.settings).sync
    store.upsert_anomalies([episode(tenant, "index", datetime.now(UTC))])
    [first] = wait_for(lambda: live(engine, tenant), timeout=30, interval=0.25, what="the first incident")
    fix = "Rebuilt the search index shard: its disk had filled up, so index queries were slow."
    writer = engine.auth(tenant=tenant, role=Role.OPERATOR)
    for incident_id, service, text in [(first["incident_id"], "index", fix),
                                       ("inc-elsewhere", "ingress", "Renewed the expired TLS certificate on the "
                                                                    "ingress gateway.")]:
        response = engine.http.post("/api/v1/resolutions/webhook", headers=writer, json={
            "incident_id": incident_id, "service_id": service, "resolution": text, "resolved_by": "bob@acme.com"})
        assert response.status_code == 200, response.text
    path = f"/api/v1/incidents/{first['incident_id']}"
    assert engine.http.get(path, headers=writer).json()["status"] == "resolved"
    # The same service fails again: a new incident (the first is resolved), not a member of the old one.
    store.upsert_anomalies([episode(tenant, "index", datetime.now(UTC))])
    [second] = wait_for(lambda: [i for i in live(engine, tenant) if i["incident_id"] != first["incident_id"]],
                        timeout=30, interval=0.25, what="the second incident")

    def similar(incident_id: str) -> list[dict]:
        return engine.http.get(f"/api/v1/incidents/{incident_id}", headers=writer).json()["similar_incidents"]

    # The resolutions are embedded once the webhook answered (or by the vectorizer's backlog scan soon after).
    found = wait_for(lambda: similar(second["incident_id"]), timeout=30, interval=0.5, what="a similar incident")
    assert [s["incident_id"] for s in found] == [first["incident_id"]], found  # not the TLS fix on ingress
    assert found[0]["resolution"] == fix and found[0]["service_id"] == "index" and -1 <= found[0]["similarity"] <= 1
    assert similar(first["incident_id"]) == []  # never similar to itself; the ingress fix is unlike it


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
