"""The sender never hands a delivery to a proxy named in the environment (``HTTP_PROXY``, ``ALL_PROXY``).

A proxy would see the full URL (a Slack URL is the credential) and would connect to the
name itself, bypassing the vetted address (:mod:`aiops.notify.targets`). Real servers on
loopback stand in for the receiver and for a proxy an attacker (or a stray shell) set.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from aiops.incident.codec import change_to_dict
from aiops.notify.channels import channel_to_storage, parse_channel
from aiops.notify.sender import Notifier, send_test
from aiops.notify.sender import test_change as sample_change
from aiops.settings import load_settings
from aiops.storage.outbox import PENDING, ChannelRow, OutboxRow
from aiops.storage.store import Store
from tests.conftest import free_port

TOKEN = "T0AIOPS/B0PROXY/proxysecrettoken"


class Recorder:
    """An HTTP server on loopback that answers 200 to anything and keeps each request line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        lines = self.lines

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                lines.append(self.requestline)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_CONNECT = _any  # noqa: N815 - http.server's names

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Recorder, Recorder]]:
    receiver, proxy = Recorder(), Recorder()
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield receiver, proxy
    finally:
        receiver.stop()
        proxy.stop()


def test_a_channel_test_goes_to_the_receiver_not_to_an_environment_proxy(servers, tmp_path: Path) -> None:
    receiver, proxy = servers
    settings = load_settings(data_dir=tmp_path)  # development mode: loopback receivers allowed
    channel = parse_channel({"name": "ops", "type": "slack", "url": f"{receiver.url}/services/{TOKEN}"})
    delivered, status, error = asyncio.run(send_test(channel, "ch-1", "acme", settings))
    assert (delivered, status, error) == (True, 200, None)
    assert proxy.lines == [] and len(receiver.lines) == 1 and TOKEN in receiver.lines[0]


def test_an_outbox_delivery_goes_to_the_receiver_not_to_an_environment_proxy(servers, tmp_path: Path) -> None:
    receiver, proxy = servers
    settings = load_settings(data_dir=tmp_path)
    now = datetime.now(UTC)
    channel = parse_channel({"name": "ops", "type": "slack", "url": f"{receiver.url}/services/{TOKEN}"})
    store = Store(settings)
    store.migrate()
    try:
        store.save_channel(ChannelRow("acme", "ch-1", "ops", "slack",
                                      orjson.dumps(channel_to_storage(channel)).decode(), now), now)
        change = sample_change("acme", "ch-1", now)
        store.enqueue_notifications([OutboxRow("acme", "ntf-1", "ch-1", change.incident.incident_id, "opened", 0,
                                               orjson.dumps(change_to_dict(change)).decode(), PENDING, 0, None,
                                               now - timedelta(seconds=1), now)], now)
        notifier = Notifier(settings, store)
        try:
            assert notifier.run_once() == 1
        finally:
            notifier.close()
        [attempt] = store.delivery_attempts("acme", change.incident.incident_id)
        assert attempt.outcome == "delivered", attempt
    finally:
        store.close()
    assert proxy.lines == [] and len(receiver.lines) == 1 and TOKEN in receiver.lines[0]


def test_a_stored_channel_that_cannot_be_sent_fails_alone_and_quotes_no_secret(servers, tmp_path: Path) -> None:
    """A channel stored before its fields were checked (a bearer token with a newline, one not ASCII) fails its
    own rows, naming no secret; the pass goes on to the next row, which is delivered."""
    receiver, _ = servers
    settings = load_settings(data_dir=tmp_path)
    now = datetime.now(UTC)
    bad_tokens = {"ch-nl": "abc\r\nX-Evil: 1", "ch-uni": "t\u00fcken-" + TOKEN}
    good = parse_channel({"name": "ops", "type": "slack", "url": f"{receiver.url}/services/{TOKEN}"})
    store = Store(settings)
    store.migrate()
    try:
        configs = {channel_id: {"name": "am", "type": "alertmanager", "url": receiver.url, "bearer_token": token,
                                "min_severity": "info", "resend_seconds": None}
                   for channel_id, token in bad_tokens.items()}
        configs["ch-ok"] = channel_to_storage(good)
        rows = []
        for seq, (channel_id, config) in enumerate(configs.items()):
            store.save_channel(ChannelRow("acme", channel_id, "ops", config["type"], orjson.dumps(config).decode(),
                                          now), now)
            change = sample_change("acme", channel_id, now)
            rows.append(OutboxRow("acme", f"ntf-{seq}", channel_id, change.incident.incident_id, "opened", seq,
                                  orjson.dumps(change_to_dict(change)).decode(), PENDING, 0, None,
                                  now - timedelta(seconds=3 - seq), now))
        store.enqueue_notifications(rows, now)
        notifier = Notifier(settings, store)
        try:
            assert notifier.run_once() == 3
        finally:
            notifier.close()
        attempts = {a.channel_id: a for row in rows for a in store.delivery_attempts("acme", row.incident_id)}
    finally:
        store.close()
    assert attempts["ch-ok"].outcome == "delivered"
    for channel_id in bad_tokens:
        assert attempts[channel_id].outcome == "failed", attempts[channel_id]
        assert "abc" not in attempts[channel_id].error and TOKEN not in attempts[channel_id].error
