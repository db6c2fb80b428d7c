"""The open port 9093 (kind 3): what a payload costs, who may post for a tenant, and how long a sender may take."""

from __future__ import annotations

import asyncio
import copy
import select
import socket
import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops.alerts.intake import AlertIntake
from aiops.schemas.alerts import AlertmanagerPayload
from aiops.settings import load_settings
from aiops.storage.gateway import StoreGateway
from deployments.webhook_app import create_webhook_app
from tests.conftest import RunningEngine
from tests.deployments.test_alerts import REFERENCE, WEBHOOK, alerts_of, for_tenant
from tests.deployments.test_anomalies import anomalies, new_tenant
from tests.properties import ENGINE_PROPERTY

pytestmark = pytest.mark.engine


def many_alerts(tenant: str, count: int, status: str = "resolved") -> dict:
    alert = REFERENCE["alerts"][0]
    return {"alerts": [{**alert, "status": status, "endsAt": "2026-04-10T12:30:00Z",
                        "labels": {**alert["labels"], "tenant_id": tenant, "instance": f"pod-{i}"}}
                       for i in range(count)]}


def fingerprinted(payload: dict, tenant: str) -> dict:
    body = copy.deepcopy(payload)
    for alert in body["alerts"]:
        alert["fingerprint"] = f"fp-{tenant}"
    return body


class CountingStore:
    """The engine's own storage proxy, counting the calls that reach it (a spy, not a stand-in)."""

    def __init__(self, real) -> None:
        self._real = real
        self.calls: list[str] = []

    def __getattr__(self, method: str):
        call = getattr(self._real, method)

        async def counted(*args, **kwargs):
            self.calls.append(method)
            return await call(*args, **kwargs)

        return counted


@pytest.mark.reliability(
    fault="one 1,000-alert payload labelled with a tenant (the report: 2,003 sequential storage calls, 20 s)",
    promise="one storage round trip per payload, whatever its size; answered in well under a second or two",
    kind="3 the open port 9093",
)
def test_a_thousand_alerts_cost_one_storage_call(engine: RunningEngine, record_property) -> None:
    tenant = new_tenant(engine)
    counting = CountingStore(StoreGateway(engine.settings, in_process=False).aio)
    intake = AlertIntake(engine.settings, counting)
    payload = AlertmanagerPayload.model_validate(many_alerts(tenant, 1000))
    began = time.perf_counter()
    answer = asyncio.run(intake.receive(payload))
    in_process = time.perf_counter() - began
    assert answer.anomaly_id and counting.calls == ["record_alert_notices"]
    assert anomalies(engine, tenant, limit=1)["total"] == 1000

    # The same through port 9093, as Alertmanager sends it (a second tenant: nothing shared).
    other = new_tenant(engine)
    began = time.perf_counter()
    response = engine.webhook.post(WEBHOOK, json=many_alerts(other, 1000))
    over_http = time.perf_counter() - began
    assert response.status_code == 200, response.text
    record_property("measured", f"1,000 alerts: 1 storage call ({in_process:.2f} s in process); "
                                f"{over_http:.2f} s through 9093 (the report: 2,003 calls, 20 s)")


def webhook_app_with(engine: RunningEngine, **alerts) -> httpx.AsyncClient:
    """A second 9093 app on the same engine storage, with other alert settings."""
    settings = engine.settings.model_copy(update={"alerts": engine.settings.alerts.model_copy(update=alerts)})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_webhook_app(settings)), base_url="http://9093")


async def _post(client: httpx.AsyncClient, **kwargs) -> httpx.Response:
    async with client:
        return await client.post(WEBHOOK, **kwargs)


def test_required_keys_refuse_before_the_body_and_are_on_in_production(engine: RunningEngine, tmp_path) -> None:
    assert load_settings(data_dir=tmp_path, mode="production", jwt_secret="s" * 40).webhook_key_required
    assert not load_settings(data_dir=tmp_path).webhook_key_required
    assert not load_settings(data_dir=tmp_path, mode="production", alerts={"require_webhook_key": False}
                             ).webhook_key_required
    tenant = new_tenant(engine)
    refused = asyncio.run(_post(webhook_app_with(engine, require_webhook_key=True), content=b"{not even json",
                                headers={"Content-Type": "application/json"}))
    assert refused.status_code == 401 and "requires a webhook-scoped API key" in refused.json()["error"]["message"]
    _, key = engine.create_key("webhook", tenant=tenant)
    accepted = asyncio.run(_post(webhook_app_with(engine, require_webhook_key=True), json=REFERENCE,
                                 headers={"Authorization": f"Bearer {key}"}))
    assert accepted.status_code == 200, accepted.text


@pytest.mark.reliability(
    fault="label-only alerts for a tenant that has webhook keys, and a forged resolved notice for an alert first "
          "sent with a key (even after the tenant revoked every key)",
    promise="401 naming the alert, nothing stored or resolved",
    kind="3 the open port 9093",
)
def test_a_tenant_with_webhook_keys_refuses_label_only_alerts(engine: RunningEngine, record_property) -> None:
    tenant = new_tenant(engine)
    key_id, key = engine.create_key("webhook", tenant=tenant)
    keyed = {"Authorization": f"Bearer {key}"}
    refused = engine.webhook.post(WEBHOOK, json=for_tenant(tenant))
    assert refused.status_code == 401 and "has webhook keys" in refused.json()["error"]["message"]
    assert alerts_of(engine, tenant) == []

    # Alertmanager sends each alert's fingerprint; a forger copies it to hit the same anomaly.
    fired = engine.webhook.post(WEBHOOK, json=fingerprinted(REFERENCE, tenant), headers=keyed)
    assert fired.status_code == 200
    resolved = fingerprinted(for_tenant(tenant, status="resolved", endsAt="2026-04-10T12:30:00Z"), tenant)
    forged = engine.webhook.post(WEBHOOK, json=resolved)
    assert forged.status_code == 401
    assert engine.http.delete(f"/api/v1/apikeys/{key_id}", headers=engine.auth(tenant=tenant)).status_code == 204
    forged = engine.webhook.post(WEBHOOK, json=resolved)
    assert forged.status_code == 401 and "first sent with a webhook key" in forged.json()["error"]["message"]
    [anomaly] = alerts_of(engine, tenant)
    assert anomaly["resolved"] is False
    record_property("measured", "label-only alert for a keyed tenant: 401, nothing stored; forged resolved: 401 "
                                "before and after the tenant revoked its keys; the anomaly stays open")


def test_property_who_may_post_for_a_tenant(engine: RunningEngine) -> None:
    @ENGINE_PROPERTY
    @given(has_key=st.booleans(), presents_key=st.booleans(), fired_with_key=st.booleans(),
           status=st.sampled_from(["firing", "resolved"]))
    def check(has_key: bool, presents_key: bool, fired_with_key: bool, status: str) -> None:
        tenant = new_tenant(engine)
        key = engine.create_key("webhook", tenant=tenant)[1] if has_key or presents_key or fired_with_key else None
        if fired_with_key:
            assert engine.webhook.post(WEBHOOK, json=fingerprinted(REFERENCE, tenant),
                                       headers={"X-API-Key": key}).status_code == 200
        if key and not has_key and not presents_key:  # the key existed only to fire: revoke it
            keys = engine.http.get("/api/v1/apikeys", headers=engine.auth(tenant=tenant)).json()["api_keys"]
            for made in keys:
                engine.http.delete(f"/api/v1/apikeys/{made['key_id']}", headers=engine.auth(tenant=tenant))
        body = fingerprinted(REFERENCE if presents_key else for_tenant(tenant), tenant)
        body["alerts"][0]["status"] = status
        response = engine.webhook.post(WEBHOOK, json=body, headers={"X-API-Key": key} if presents_key else {})
        tenant_has_keys = has_key or presents_key  # the keys still standing when this notice comes
        allowed = presents_key or (not tenant_has_keys and not fired_with_key)
        assert (response.status_code == 200) == allowed, (has_key, presents_key, fired_with_key, status,
                                                           response.text)
        if not allowed:
            assert response.status_code == 401

    check()


def _drip(port: int, head: bytes, body_drip: bool, limit: float) -> tuple[str, float]:
    """Send ``head`` a byte at a time (or all of it, then a body a byte at a time), every 0.5 s."""
    began = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=limit + 30) as sock:
        pending = b"" if body_drip else head
        if body_drip:
            sock.sendall(head)
        sock.setblocking(False)
        while time.monotonic() - began < limit + 20:
            try:
                sock.sendall(pending[:1] if pending else b" ")
                pending = pending[1:]
            except OSError:
                break
            readable, _, _ = select.select([sock], [], [], 0.5)
            if not readable:
                continue
            try:
                chunk = sock.recv(65536)
            except (BlockingIOError, ConnectionResetError):
                break
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1") else "closed"
    return status, time.monotonic() - began


@pytest.mark.reliability(
    fault="a sender dripping its request head, then its body, one byte every 0.5 s, to 9093; an idle connection",
    promise="408 (or closed) at alerts.request_timeout_seconds; idle connections closed after "
            "alerts.keep_alive_seconds",
    kind="3 the open port 9093",
)
def test_slow_senders_are_cut_off_on_9093(engine: RunningEngine, record_property) -> None:
    limit = engine.settings.alerts.request_timeout_seconds
    port = engine.settings.webhook_port
    head = (b"POST /api/v1/alerts/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n")
    figures = []
    for what, body_drip in (("head", False), ("body", True)):
        status, waited = _drip(port, head, body_drip, limit)
        assert status in ("408", "closed") and waited < limit + 5, (what, status, waited)
        figures.append(f"{what} drip: {status} after {waited:.1f} s")
    idle = engine.settings.alerts.keep_alive_seconds
    with socket.create_connection(("127.0.0.1", port), timeout=idle + 10) as sock:
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while b"}" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        began = time.monotonic()
        closed = sock.recv(1) == b""  # blocks until the listener closes the idle connection
    figures.append(f"idle keep-alive connection closed after {time.monotonic() - began:.1f} s")
    assert closed and time.monotonic() - began < idle + 5
    record_property("measured", f"limit {limit:g} s: " + "; ".join(figures))
