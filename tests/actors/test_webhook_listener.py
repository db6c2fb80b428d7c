"""The second port: the webhook listener actor answers on its own socket, and comes back."""

from __future__ import annotations

import os
import signal

import httpx
import pytest
import ray

from actors.directory import WEBHOOK_LISTENER, actor_name
from tests.conftest import RunningEngine, wait_for

pytestmark = pytest.mark.engine


def test_second_port_answers(engine: RunningEngine) -> None:
    assert engine.settings.webhook_port != engine.settings.http_port
    response = engine.webhook.get("/-/healthy")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    missing = engine.webhook.get("/api/v1/status")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_listener_comes_back_after_its_process_dies(engine: RunningEngine) -> None:
    listener = ray.get_actor(actor_name(WEBHOOK_LISTENER, 0), namespace=engine.settings.ray.namespace)
    pid = ray.get(listener.__ray_call__.remote(lambda self: os.getpid()))
    os.kill(pid, signal.SIGKILL)

    def answers_from_new_process() -> bool:
        new_pid = ray.get(listener.__ray_call__.remote(lambda self: os.getpid()), timeout=5)
        return new_pid != pid and engine.webhook.get("/-/healthy").status_code == 200

    wait_for(answers_from_new_process, timeout=60, interval=0.2, what="the listener to restart on its port")
    with httpx.Client(base_url=f"http://127.0.0.1:{engine.settings.webhook_port}") as client:
        assert client.get("/-/healthy").json()["status"] == "ok"
