"""No secret and no full API key in logs, error answers, metrics or storage (a scan of all of them)."""

from __future__ import annotations

from itertools import chain
from pathlib import Path

import pytest
import ray

from aiops.auth.roles import Role
from aiops.storage.gateway import StoreGateway
from tests.conftest import RunningEngine, file_contents

pytestmark = pytest.mark.engine


@pytest.mark.reliability(
    fault="secrets in logs, error answers, metrics, storage",
    promise="no API key, JWT secret or token anywhere but the 0600 secret file",
)
def test_secrets_appear_nowhere(engine: RunningEngine, record_property) -> None:
    _, api_key = engine.create_key("read")
    secret_part = api_key.removeprefix("isage_")
    jwt_secret = engine.settings.jwt_secret.get_secret_value()
    token = engine.token(role=Role.VIEWER)
    # Use them, misuse them, and make errors about them.
    answers = [
        engine.http.get("/api/v1/anomalies", headers={"X-API-Key": api_key}),
        engine.http.get("/api/v1/anomalies", headers={"X-API-Key": api_key[:-2] + "xx"}),  # a near miss
        engine.http.post("/api/v1/apikeys", json={"name": "k", "scope": "read"}, headers={"X-API-Key": api_key}),
        engine.http.get("/api/v1/anomalies", headers={"Authorization": f"Bearer {token[:-4]}AAAA"}),
        engine.http.get("/api/v1/anomalies", headers={"Authorization": f"Bearer {token}"}),
        engine.webhook.post("/api/v1/alerts/webhook", json={"alerts": []}, headers={"X-API-Key": api_key}),
    ]
    assert [a.status_code for a in answers] == [200, 401, 403, 401, 200, 403]
    needles = {"API key": secret_part.encode(), "JWT secret": jwt_secret.encode(), "token": token.encode()}
    for answer in answers:
        for what, needle in needles.items():
            assert needle not in answer.content, f"{what} in an answer to {answer.request.url}"
    metrics = engine.http.get("/metrics").content
    assert not any(needle in metrics for needle in needles.values())
    store = StoreGateway(engine.settings, in_process=False)
    assert store.sync.tables_containing(secret_part) == []
    assert store.sync.tables_containing(token) == []
    logs = Path(ray._private.worker._global_node.get_logs_dir_path())
    scanned = 0
    limit = 200 * 1024 * 1024
    for path, data in chain(file_contents(logs, limit), file_contents(engine.settings.data_dir, limit)):
        if path.name == "jwt-secret":
            continue  # where a generated secret is meant to live (0600); this engine's is set in settings
        scanned += 1
        for what, needle in needles.items():
            assert needle not in data, f"{what} found in {path}"
    assert scanned > 10
    record_property("measured", f"{scanned} log and data files, {len(answers)} answers, /metrics and every table "
                                "scanned")
