"""Hostile callers against incidents, notification channels, the resolution webhook and 9093.

Another tenant's ids answer exactly as made-up ones (404, the same words); roles below what
a route needs are 403; bad input is a 4xx JSON error naming what is wrong and changes
nothing; channel URLs to internal addresses are refused; a channel's secret or token URL is
never shown again, in any answer, in /metrics or in the engine's logs; redirects are not
followed. Everything runs against the session engine over real HTTP.
"""

from __future__ import annotations

import base64
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from aiops.auth.roles import Role
from aiops.storage.gateway import StoreGateway
from tests.conftest import RunningEngine, free_port, wait_for
from tests.deployments.test_alerts import WEBHOOK
from tests.deployments.test_anomalies import new_tenant
from tests.deployments.test_incidents_live import admin, alert, episode, incidents, topology_tenant

pytestmark = pytest.mark.engine

CHANNELS = "/api/v1/notifications/channels"
SECRET = "whsec-attack-" + "k" * 24
SQL_IDS = ["inc-' OR '1'='1", "inc-1; DROP TABLE incidents", "' UNION SELECT * FROM channels --", "inc-\\'", "%00"]


def refused(response: httpx.Response, status: int | tuple[int, ...], *words: str) -> str:
    """Assert the engine's JSON error with ``status`` whose message names each of ``words``; the message."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] and error["message"], error
    for word in words:
        assert word in error["message"], (word, error)
    return error["message"]


def open_incident(engine: RunningEngine, service: str = "index") -> tuple[str, dict]:
    """A fresh tenant with one open incident (a watchdog episode on ``service``)."""
    tenant = topology_tenant(engine)
    StoreGateway.for_settings(engine.settings).sync.upsert_anomalies([episode(tenant, service, datetime.now(UTC))])
    [incident] = wait_for(lambda: incidents(engine, tenant)["incidents"], timeout=30, interval=0.25,
                          what="the incident")
    return tenant, incident


def detail(engine: RunningEngine, tenant: str, incident_id: str) -> dict:
    response = engine.http.get(f"/api/v1/incidents/{incident_id}", headers=admin(engine, tenant))
    assert response.status_code == 200, response.text
    return response.json()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(("params", "field"), [
    ({"status": "closed"}, "status"), ({"status": "OPEN"}, "status"), ({"min_severity": "fatal"}, "min_severity"),
    ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": 10 ** 30}, "limit"), ({"limit": "abc"}, "limit"),
    ({"limit": "1e3"}, "limit"), ({"limit": -1}, "limit"), ({"since": "yesterday"}, "since"),
    ({"until": "2026-13-45T00:00:00Z"}, "until"), ({"page_token": "!!!not-base64!!!"}, "page_token"),
    ({"page_token": "x" * 201}, "page_token"), ({"page_token": b64(b"null")}, "page_token"),
    ({"page_token": b64(b'{"at": 100000000000000000000, "id": "x"}')}, "page_token"),
    ({"page_token": b64(b'{"at": 1775822400000, "id": "x", "extra": 1}')}, "page_token"),
    ({"page_token": b64(b'{"at": 1775822400000, "id": ""}')}, "page_token"),
    ({"page_token": b64(b'{"at": 1e300, "id": "x"}')}, "page_token"),
    ({"page_token": b64(b"[" * 150)}, "page_token"),
    ({"service_id": "x" * 257}, "service_id"),
])
def test_incident_lists_refuse_bad_queries_naming_the_parameter(engine: RunningEngine, params: dict,
                                                                field: str) -> None:
    response = engine.http.get("/api/v1/incidents", params=params, headers=engine.auth(role=Role.VIEWER))
    refused(response, (400, 422), field)


@pytest.mark.parametrize("service", ["' OR 1=1 --", "x'); DROP TABLE incidents; --", "\\", "%", "_", "ü🙂"])
def test_sql_looking_filters_find_nothing_and_break_nothing(engine: RunningEngine, service: str) -> None:
    response = engine.http.get("/api/v1/incidents", params={"service_id": service},
                               headers=engine.auth(role=Role.VIEWER))
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0 and response.json()["incidents"] == []


def test_another_tenants_incident_is_404_exactly_as_a_made_up_one(engine: RunningEngine) -> None:
    tenant, incident = open_incident(engine)
    theirs = incident["incident_id"]
    made_up = "inc-" + secrets.token_hex(8)
    other = admin(engine, "globex")
    for method, body in (("GET", None), ("PATCH", {"status": "acknowledged"}), ("PATCH", {"status": "resolved"})):
        answers = [engine.http.request(method, f"/api/v1/incidents/{i}", json=body, headers=other)
                   for i in (theirs, made_up)]
        messages = [refused(a, 404, "not found") for a in answers]
        assert messages[0].replace(theirs, "ID") == messages[1].replace(made_up, "ID"), messages
    for sql in SQL_IDS:
        for method, body in (("GET", None), ("PATCH", {"status": "resolved"})):
            response = engine.http.request(method, f"/api/v1/incidents/{httpx.URL(sql).raw_path.decode()}",
                                           json=body, headers=admin(engine, tenant))
            assert response.status_code in (404, 422), (sql, response.status_code, response.text)
            refused(response, (404, 422))
    refused(engine.http.get(f"/api/v1/incidents/inc-{'a' * 200}", headers=admin(engine, tenant)), (404, 422))
    # Nothing the other tenant did reached the incident.
    seen = detail(engine, tenant, theirs)
    assert seen["status"] == "open" and [e["kind"] for e in seen["timeline"]] == ["opened"], seen["timeline"]


@pytest.mark.parametrize("body", [b"not json", b"[]", b"null", b'"resolved"', b"{", b'{"status": "resolved"',
                                  b'{"status": null}', b"{}", b'{"status": "Resolved"}', b'{"status": "open"}',
                                  b'{"status": "resolved", "extra": 1}', b'{"status": "resolved", "by": ""}',
                                  b'{"status": "resolved", "by": "' + b"x" * 201 + b'"}',
                                  b'{"status": "resolved", "by": 7}', b'{"status": ["resolved"]}',
                                  b'{"status": "resolved", "by": "\\ud83d"}',
                                  b'{"status": "acknowledged", "status": "resolved"}'])
def test_bad_patch_bodies_are_4xx_and_change_nothing(engine: RunningEngine, body: bytes) -> None:
    tenant, incident = attacked_incident(engine)
    response = engine.http.patch(f"/api/v1/incidents/{incident}", content=body,
                                 headers={**admin(engine, tenant), "Content-Type": "application/json"})
    refused(response, (400, 422))
    seen = detail(engine, tenant, incident)
    assert seen["status"] == "open" and [e["kind"] for e in seen["timeline"]] == ["opened"], seen["timeline"]


_ATTACKED: dict[str, tuple[str, str]] = {}


def attacked_incident(engine: RunningEngine) -> tuple[str, str]:
    """One open incident that the bad-body tests share (they must all leave it as it is)."""
    if "it" not in _ATTACKED:
        tenant, incident = open_incident(engine)
        _ATTACKED["it"] = (tenant, incident["incident_id"])
    return _ATTACKED["it"]


def test_patch_needs_write_and_a_resolved_incident_stays_resolved(engine: RunningEngine) -> None:
    tenant, incident = open_incident(engine)
    path = f"/api/v1/incidents/{incident['incident_id']}"
    # CONTRACT.md: viewer has read only; API keys are for ingestion, read or webhook, never a change.
    refused(engine.http.patch(path, json={"status": "resolved"}, headers=engine.auth(tenant=tenant,
                                                                                      role=Role.VIEWER)), 403)
    for scope in ("read", "ingestion", "webhook"):
        _, key = engine.create_key(scope, tenant=tenant)
        response = engine.http.patch(path, json={"status": "resolved"}, headers={"X-API-Key": key})
        refused(response, (401, 403))
    other_scheme = engine.http.patch(path, json={"status": "resolved"}, headers={"Authorization": "Basic YTpi"})
    refused(other_scheme, 401)
    assert detail(engine, tenant, incident["incident_id"])["status"] == "open"
    operator = engine.auth(tenant=tenant, user="op@acme.com", role=Role.OPERATOR)
    first = engine.http.patch(path, json={"status": "resolved"}, headers=operator)
    assert first.status_code == 200 and first.json()["resolved_by"] == "op@acme.com", first.text
    again = engine.http.patch(path, json={"status": "resolved", "by": "mallory@acme.com"}, headers=admin(engine,
                                                                                                        tenant))
    assert again.status_code in (200, 409), again.text
    seen = detail(engine, tenant, incident["incident_id"])
    assert seen["resolved_by"] == "op@acme.com" and seen["resolved_at"] == first.json()["resolved_at"]
    assert [e["kind"] for e in seen["timeline"]].count("resolved") == 1, seen["timeline"]
    refused(engine.http.patch(path, json={"status": "acknowledged"}, headers=operator), 409, "resolved")
    late = engine.http.post("/api/v1/resolutions/webhook", headers=operator, json={
        "incident_id": incident["incident_id"], "service_id": "index", "resolution": "Rebuilt the index.",
        "resolved_by": "mallory@acme.com"})
    assert late.status_code == 200, late.text  # remembered as a fix; the incident stays resolved by its resolver
    assert detail(engine, tenant, incident["incident_id"])["resolved_by"] == "op@acme.com"
    huge = b'{"status": "resolved", "by": "' + b"x" * (11 << 20) + b'"}'
    refused(engine.http.patch(path, content=huge, headers={**operator, "Content-Type": "application/json"}), 413)


def test_concurrent_acknowledges_and_resolves_leave_one_consistent_incident(engine: RunningEngine) -> None:
    tenant, incident = open_incident(engine)
    path = f"/api/v1/incidents/{incident['incident_id']}"
    headers = admin(engine, tenant)

    def change(i: int) -> httpx.Response:
        with httpx.Client(base_url=str(engine.http.base_url), timeout=30) as client:
            return client.patch(path, json={"status": "acknowledged" if i % 2 else "resolved",
                                            "by": f"user{i}@acme.com"}, headers=headers)

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(change, range(24)))
    assert {a.status_code for a in answers} <= {200, 409}, [(a.status_code, a.text) for a in answers]
    seen = detail(engine, tenant, incident["incident_id"])
    kinds = [e["kind"] for e in seen["timeline"]]
    assert seen["status"] == "resolved" and kinds.count("resolved") == 1 and kinds.count("acknowledged") <= 1, kinds
    resolved_ok = [a.json() for a in answers if a.status_code == 200 and a.json()["status"] == "resolved"]
    assert {r["resolved_by"] for r in resolved_ok} == {seen["resolved_by"]}, (resolved_ok, seen)
    listed = {i["incident_id"]: i for i in incidents(engine, tenant)["incidents"]}
    assert listed[incident["incident_id"]]["status"] == "resolved"


def test_a_resolution_naming_another_tenants_incident_changes_nothing_there(engine: RunningEngine) -> None:
    tenant, incident = open_incident(engine)
    intruder = new_tenant(engine)
    body = {"incident_id": incident["incident_id"], "service_id": "index", "resolution": "Closed by a stranger.",
            "resolved_by": "mallory@evil.example"}
    response = engine.http.post("/api/v1/resolutions/webhook", json=body,
                                headers=engine.auth(tenant=intruder, role=Role.OPERATOR))
    assert response.status_code == 200, response.text  # as for any id it does not know: no existence revealed
    seen = detail(engine, tenant, incident["incident_id"])
    assert seen["status"] == "open" and seen["resolved_by"] is None
    refused(engine.http.post("/api/v1/resolutions/webhook", json=body,
                             headers=engine.auth(tenant=tenant, role=Role.VIEWER)), 403)
    for bad in ({**body, "incident_id": ""}, {**body, "incident_id": "x" * 5000}, {**body, "resolution": ""},
                {**body, "time_to_recovery_minutes": -5}, {**body, "tags": "not-a-list"}, {**body, "extra": 1}):
        refused(engine.http.post("/api/v1/resolutions/webhook", json=bad, headers=admin(engine, tenant)), (400, 422))
    assert detail(engine, tenant, incident["incident_id"])["status"] == "open"


INTERNAL_URLS = [
    "http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]/",
    "http://10.1.2.3/hook", "http://192.168.0.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://0.0.0.0:9/",
    "http://[::]/", "http://224.0.0.1/", "http://[fe80::1]/", "http://169.254.170.2/v2/credentials",
    "file:///etc/passwd", "gopher://127.0.0.1:25/", "ftp://example.com/", "javascript:alert(1)", "", "http://",
    "http://[::1", "http://a b/", "http://127.0.0.1:0/", "http://127.0.0.1:99999/", "https://no-such-host.invalid/x",
    "http://" + "a" * 3000 + ".com/",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_channels_to_internal_or_bad_urls_are_422_and_not_stored(engine: RunningEngine, url: str) -> None:
    tenant = channel_tenant(engine)
    for kind, extra in (("webhook", {"secret": SECRET}), ("alertmanager", {}), ("slack", {})):
        response = engine.http.post(CHANNELS, json={"name": "ops", "type": kind, "url": url, **extra},
                                    headers=admin(engine, tenant))
        refused(response, 422)
        assert SECRET not in response.text
    assert engine.http.get(CHANNELS, headers=admin(engine, tenant)).json()["channels"] == []


_CHANNEL_TENANT: list[str] = []


def channel_tenant(engine: RunningEngine) -> str:
    """A tenant that must end with no channels (shared by the refusal tests)."""
    if not _CHANNEL_TENANT:
        _CHANNEL_TENANT.append(new_tenant(engine))
    return _CHANNEL_TENANT[0]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "ops", "type": "webhook", "url": "https://hooks.example.com/x"}, "secret"),
    ({"name": "ops", "type": "webhook", "url": "https://hooks.example.com/x", "secret": "s" * 257}, "secret"),
    ({"name": "ops", "type": "webhook", "url": "https://hooks.example.com/x", "secret": SECRET,
      "min_severity": "fatal"}, "min_severity"),
    ({"name": "ops", "type": "alertmanager", "url": "https://am.example.com", "resend_seconds": 1}, "resend_seconds"),
    ({"name": "ops", "type": "alertmanager", "url": "http://127.0.0.1:9/", "bearer_token": "abc\r\nX-Evil: 1"},
     "bearer_token"),
    ({"name": "ops", "type": "alertmanager", "url": "http://127.0.0.1:9/", "bearer_token": "t\u00fcken"},
     "bearer_token"),
    ({"name": "ops", "type": "alertmanager", "url": "http://127.0.0.1:9/", "bearer_token": "t" * 5000},
     "bearer_token"),
    ({"name": "ops", "type": "slack", "url": "https://hooks.slack.com/x", "secret": SECRET}, "secret"),
    ({"name": "../../etc", "type": "slack", "url": "https://hooks.slack.com/x"}, "name"),
    ({"name": "x" * 65, "type": "slack", "url": "https://hooks.slack.com/x"}, "name"),
    ({"name": "ops", "type": "Slack", "url": "https://hooks.slack.com/x"}, "type"),
    ({"name": "ops", "type": None, "url": "https://hooks.slack.com/x"}, "type"),
    ({"name": "ops", "url": "https://hooks.slack.com/x"}, "type"),
    ({"name": "ops", "type": "slack", "url": 5}, "url"),
    ({"name": "ops", "type": "slack", "url": "http://hooks.slack.com/services/T/B/x"}, "https"),
])
def test_bad_channel_bodies_are_422_naming_the_field(engine: RunningEngine, body: dict, field: str) -> None:
    tenant = channel_tenant(engine)
    response = engine.http.post(CHANNELS, json=body, headers=admin(engine, tenant))
    refused(response, 422, field)
    assert SECRET not in response.text
    assert engine.http.get(CHANNELS, headers=admin(engine, tenant)).json()["channels"] == []


@pytest.mark.parametrize("raw", [b"not json", b"[]", b"null", b'"x"', b"{", b"[" * 5000, b"{}"])
def test_malformed_channel_bodies_are_a_clean_4xx(engine: RunningEngine, raw: bytes) -> None:
    tenant = channel_tenant(engine)
    response = engine.http.post(CHANNELS, content=raw, headers={**admin(engine, tenant),
                                                                "Content-Type": "application/json"})
    refused(response, (400, 422))
    assert engine.http.get(CHANNELS, headers=admin(engine, tenant)).json()["channels"] == []


def test_an_oversized_channel_body_is_413(engine: RunningEngine) -> None:
    tenant = channel_tenant(engine)
    huge = b'{"name": "ops", "type": "slack", "url": "https://hooks.slack.com/x", "pad": "' + b"x" * (11 << 20) + b'"}'
    response = engine.http.post(CHANNELS, content=huge, headers={**admin(engine, tenant),
                                                                 "Content-Type": "application/json"})
    refused(response, 413)


def test_channels_are_for_admins_of_their_own_tenant_only(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    created = engine.http.post(CHANNELS, headers=admin(engine, tenant), json={
        "name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/x", "secret": SECRET})
    assert created.status_code == 201, created.text
    channel_id = created.json()["channel_id"]
    # CONTRACT.md: managing where a tenant's data is sent is an admin's (manage_users); keys never.
    lesser = [engine.auth(tenant=tenant, role=Role.VIEWER), engine.auth(tenant=tenant, role=Role.OPERATOR)]
    lesser += [{"X-API-Key": engine.create_key(scope, tenant=tenant)[1]} for scope in ("read", "ingestion", "webhook")]
    for headers in lesser:
        refused(engine.http.get(CHANNELS, headers=headers), (401, 403))
        refused(engine.http.post(CHANNELS, headers=headers, json={
            "name": "mine", "type": "slack", "url": "https://hooks.slack.com/services/T/B/x"}), (401, 403))
        refused(engine.http.delete(f"{CHANNELS}/{channel_id}", headers=headers), (401, 403))
        refused(engine.http.post(f"{CHANNELS}/{channel_id}/test", headers=headers), (401, 403))
    # Another tenant's admin: the channel does not exist for them, exactly as a made-up id.
    made_up = "ch-" + secrets.token_hex(8)
    other = admin(engine, "globex")
    for method, suffix in (("DELETE", ""), ("POST", "/test")):
        messages = [refused(engine.http.request(method, f"{CHANNELS}/{i}{suffix}", headers=other), 404, "not found")
                    for i in (channel_id, made_up)]
        assert messages[0].replace(channel_id, "ID") == messages[1].replace(made_up, "ID"), messages
    assert channel_id not in engine.http.get(CHANNELS, headers=other).text
    for sql in SQL_IDS:
        response = engine.http.delete(f"{CHANNELS}/{httpx.URL(sql).raw_path.decode()}", headers=admin(engine, tenant))
        refused(response, (404, 405, 422))
    [still] = engine.http.get(CHANNELS, headers=admin(engine, tenant)).json()["channels"]
    assert still["channel_id"] == channel_id
    assert engine.http.delete(f"{CHANNELS}/{channel_id}", headers=admin(engine, tenant)).status_code == 204
    refused(engine.http.delete(f"{CHANNELS}/{channel_id}", headers=admin(engine, tenant)), 404, "not found")
    refused(engine.http.post(f"{CHANNELS}/{channel_id}/test", headers=admin(engine, tenant)), 404, "not found")


class Redirector:
    """A receiver that answers every POST with a redirect to ``location`` (and counts what it got)."""

    def __init__(self, location: str) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hits.append(self.path)
                self.send_response(307)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_redirects_are_not_followed_and_secrets_are_never_shown(engine: RunningEngine) -> None:
    from tests.deployments.test_incidents_live import Receiver

    sink = Receiver().start()  # where a redirect would lead: it must hear nothing
    redirector = Redirector(sink.url)
    token = "T0ATTACK/B0ATTACK/" + secrets.token_hex(12)
    hook_secret = "whsec-" + secrets.token_hex(16)
    try:
        tenant = topology_tenant(engine)
        hook = engine.http.post(CHANNELS, headers=admin(engine, tenant), json={
            "name": "hook", "type": "webhook",
            "url": f"http://admin:{hook_secret}@127.0.0.1:{redirector.port}/hooks/{token}?sig={hook_secret}",
            "secret": hook_secret})
        slack = engine.http.post(CHANNELS, headers=admin(engine, tenant), json={
            "name": "slack", "type": "slack", "url": f"http://127.0.0.1:{redirector.port}/services/{token}"})
        assert hook.status_code == 201 and slack.status_code == 201, (hook.text, slack.text)
        answers = [hook, slack]
        for created in (hook, slack):
            tested = engine.http.post(f"{CHANNELS}/{created.json()['channel_id']}/test", headers=admin(engine, tenant))
            assert tested.status_code == 200 and tested.json()["delivered"] is False, tested.text
            assert tested.json()["status_code"] == 307
            answers.append(tested)
        assert len(redirector.hits) == 2 and sink.received == []
        # An incident: its notifications are redirected too (retried, never followed).
        StoreGateway.for_settings(engine.settings).sync.upsert_anomalies([episode(tenant, "db", datetime.now(UTC))])
        [incident] = wait_for(lambda: incidents(engine, tenant)["incidents"], timeout=30, interval=0.25,
                              what="the incident")
        path = f"/api/v1/incidents/{incident['incident_id']}"
        wait_for(lambda: len(engine.http.get(path, headers=admin(engine, tenant)).json()["deliveries"]) >= 2,
                 timeout=30, interval=0.25, what="both channels attempted")
        assert sink.received == []
        answers += [engine.http.get(where, headers=admin(engine, tenant))
                    for where in (path, CHANNELS, "/api/v1/incidents", "/metrics")]
        for answer in answers:
            assert token not in answer.text and hook_secret not in answer.text, answer.text[:2000]
        logs = engine_log_files()
        leaked = [str(p) for p in logs if token.encode() in p.read_bytes() or hook_secret.encode() in p.read_bytes()]
        assert leaked == [], leaked
    finally:
        redirector.stop()
        sink.stop()


def engine_log_files() -> list[Path]:
    """Every log file of the engine's processes (the Ray session's logs directory)."""
    import ray

    session = Path(ray._private.worker._global_node.get_session_dir_path())  # noqa: SLF001 - where Ray logs
    return [p for p in (session / "logs").rglob("*") if p.is_file()]


def test_keyless_alerts_cannot_reach_a_tenant_that_does_not_exist_or_another_tenants_incident(
        engine: RunningEngine) -> None:
    now = datetime.now(UTC)
    for tenant_label in ("no-such-tenant-" + secrets.token_hex(3), "' OR 1=1 --"):
        response = engine.webhook.post(WEBHOOK, json=alert(tenant_label, "api", now))
        assert 400 <= response.status_code < 500, (tenant_label, response.status_code, response.text)
    # An "echo" naming another tenant's incident from a tenant of one's own counts on nothing of theirs.
    tenant, incident = open_incident(engine, service="search")
    intruder = new_tenant(engine)
    echo = alert(intruder, "search", now, aiops_sender=engine.settings.notifications.sender,
                 aiops_incident_id=incident["incident_id"])
    assert engine.webhook.post(WEBHOOK, json=echo).status_code in (200, 422)
    assert detail(engine, tenant, incident["incident_id"])["echoes"] == 0


def test_a_channel_pointed_at_the_engines_own_webhook_makes_no_loop(engine: RunningEngine) -> None:
    tenant = topology_tenant(engine)
    own = f"http://127.0.0.1:{engine.settings.webhook_port}"
    for kind, url, extra in (("webhook", own + WEBHOOK, {"secret": SECRET}), ("alertmanager", own, {})):
        created = engine.http.post(CHANNELS, headers=admin(engine, tenant),
                                   json={"name": f"loop {kind}", "type": kind, "url": url, **extra})
        assert created.status_code == 201, created.text
    StoreGateway.for_settings(engine.settings).sync.upsert_anomalies([episode(tenant, "disk", datetime.now(UTC))])
    [incident] = wait_for(lambda: incidents(engine, tenant)["incidents"], timeout=30, interval=0.25,
                          what="the incident")
    path = f"/api/v1/incidents/{incident['incident_id']}"
    # Both channels hear "opened" (and 9093 refuses it: neither is an Alertmanager webhook payload).
    wait_for(lambda: len({d["channel_id"] for d in engine.http.get(path, headers=admin(engine, tenant))
                          .json()["deliveries"]}) == 2, timeout=30, interval=0.25, what="both channels attempted")
    listed = incidents(engine, tenant)
    assert listed["total"] == 1 and listed["incidents"][0]["members"] == 1, listed
    anomalies = engine.http.get("/api/v1/anomalies", headers=admin(engine, tenant)).json()["anomalies"]
    assert len(anomalies) == 1, anomalies


def test_concurrent_channel_creates_keep_the_cap_and_get_distinct_ids(engine: RunningEngine) -> None:
    tenant = new_tenant(engine)
    cap = engine.settings.notifications.max_channels_per_tenant

    def create(i: int) -> httpx.Response:
        with httpx.Client(base_url=str(engine.http.base_url), timeout=30) as client:
            return client.post(CHANNELS, headers=admin(engine, tenant), json={
                "name": "same", "type": "webhook", "url": "http://127.0.0.1:9/x", "secret": SECRET})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(create, range(cap + 10)))
    assert {a.status_code for a in answers} <= {201, 409}, [(a.status_code, a.text) for a in answers]
    created = [a.json()["channel_id"] for a in answers if a.status_code == 201]
    listed = [c["channel_id"] for c in engine.http.get(CHANNELS, headers=admin(engine, tenant)).json()["channels"]]
    assert len(set(created)) == len(created), created  # each 201 is a channel of its own
    assert sorted(listed) == sorted(created) and len(listed) <= cap, (len(listed), cap)


@pytest.mark.parametrize("path", ["/v1/traces", "/v1/logs", "/v1/metrics"])
def test_otlp_receivers_need_an_ingesting_identity(engine: RunningEngine, path: str) -> None:
    tenant = new_tenant(engine)
    body = {"Content-Type": "application/x-protobuf"}
    assert engine.http.post(path, content=b"", headers=body).status_code == 401
    for headers in (engine.auth(tenant=tenant, role=Role.VIEWER), {"X-API-Key": engine.create_key(
            "read", tenant=tenant)[1]}, {"X-API-Key": engine.create_key("webhook", tenant=tenant)[1]}):
        assert engine.http.post(path, content=b"", headers={**body, **headers}).status_code == 403
    gone = engine.auth(tenant="no-such-" + secrets.token_hex(3), role=Role.OPERATOR)
    assert engine.http.post(path, content=b"", headers={**body, **gone}).status_code in (401, 403, 404)
    ok = engine.http.post(path, content=b"", headers={**body, **engine.auth(tenant=tenant, role=Role.OPERATOR)})
    assert ok.status_code == 200, ok.text
