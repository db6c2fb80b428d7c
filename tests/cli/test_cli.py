"""The real ``aiops`` command in subprocesses: bootstrap, start, status, stop, restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.cli

AIOPS = [sys.executable, "-m", "aiops.cli.main"]


class Cli:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.http_port = free_port()
        self.webhook_port = free_port()
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("AIOPS_")}
        self.env.update(
            AIOPS_DATA_DIR=str(data_dir),
            AIOPS_HTTP_PORT=str(self.http_port),
            AIOPS_WEBHOOK_PORT=str(self.webhook_port),
            AIOPS_RAY__DASHBOARD="false",
            AIOPS_WATCHDOG__SHARDS="1",
            AIOPS_RCA__WORKERS="1",
        )

    def __call__(self, *args: str, timeout: float = 180, check: bool = True, **env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*AIOPS, *args], env={**self.env, **env}, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert result.returncode == 0, f"aiops {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path / "data")
    yield runner
    if (runner.data_dir / "engine.json").exists():  # never leave an engine behind a failed test
        runner("down", check=False)


def test_settings_errors_exit_2_naming_the_key(cli: Cli) -> None:
    result = cli("tenant", "list", check=False, AIOPS_WATCHDOG__SHARDS="zero")
    assert result.returncode == 2
    assert "watchdog.shards (AIOPS_WATCHDOG__SHARDS)" in result.stderr


def test_token_is_signed_with_the_generated_secret(cli: Cli) -> None:
    import jwt

    token = cli("token", "--tenant", "t", "--user", "u", "--role", "viewer", "--ttl", "15m").stdout.strip()
    secret = (cli.data_dir / "jwt-secret").read_text().strip()
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert (claims["tenant_id"], claims["sub"], claims["role"]) == ("t", "u", "viewer")
    assert claims["exp"] - claims["iat"] == 900
    bad = cli("token", "--tenant", "t", "--user", "u", "--role", "root", check=False)
    assert bad.returncode == 2


def test_tenant_create_validates(cli: Cli) -> None:
    bad = cli("tenant", "create", "Not A Slug", "--name", "x", check=False)
    assert bad.returncode == 2
    assert "lowercase slug" in bad.stderr
    cli("tenant", "create", "acme", "--name", "Acme")
    again = cli("tenant", "create", "acme", "--name", "Acme", check=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr


@pytest.mark.reliability(
    fault="aiops down, then aiops up",
    promise="every tenant, key, anomaly, RCA and resolution is there again; old tokens still verify",
)
def test_up_status_down_up_keeps_data(cli: Cli, record_property) -> None:
    cli("tenant", "create", "acme-corp", "--name", "Acme Corporation", "--plan", "pro")

    started = cli("up", "--detach")
    assert "running in the background" in started.stdout
    state = json.loads((cli.data_dir / "engine.json").read_text())
    token = cli("token", "--tenant", "t", "--user", "u", "--role", "super_admin").stdout.strip()

    status = httpx.get(f"{cli.url}/api/v1/status", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert status.status_code == 200, status.text
    assert set(status.json()["components"]) == {"watchdog", "vectorizer", "rca", "llm", "clickhouse"}
    assert httpx.get(f"{cli.url}/api/v1/status", timeout=30).status_code == 401
    assert httpx.get(f"http://127.0.0.1:{cli.webhook_port}/-/healthy", timeout=30).status_code == 200

    again = cli("up", "--detach", check=False)
    assert again.returncode == 1 and "already running" in again.stderr

    # While it runs, the CLI reaches storage through the engine (chDB has one owner).
    cli("tenant", "create", "beta", "--name", "Beta")
    listed = json.loads(cli("tenant", "list", "--json").stdout)
    # "default" is alerts.default_tenant, made at the first start for alerts with no tenant label (#18).
    assert [t["tenant_id"] for t in listed["tenants"]] == ["acme-corp", "default", "beta"]

    # Data of every kind, to find again after the restart: a key, an alert's anomaly and its
    # RCA, a resolution.
    admin_token = cli("token", "--tenant", "acme-corp", "--user", "a", "--role", "admin").stdout.strip()
    admin = {"Authorization": f"Bearer {admin_token}"}
    key = httpx.post(f"{cli.url}/api/v1/apikeys", json={"name": "k", "scope": "read"}, headers=admin,
                     timeout=30).json()["api_key"]
    alert = {"alerts": [{"status": "firing", "startsAt": "2026-04-10T12:00:00Z", "labels": {
        "alertname": "HighCPU", "service_id": "payment-api", "tenant_id": "acme-corp"}}]}
    anomaly_id = httpx.post(f"http://127.0.0.1:{cli.webhook_port}/api/v1/alerts/webhook", json=alert,
                            timeout=30).json()["anomaly_id"]
    resolution = {"incident_id": anomaly_id, "service_id": "payment-api", "resolution": "Restarted payment-api."}
    assert httpx.post(f"{cli.url}/api/v1/resolutions/webhook", json=resolution, headers=admin,
                      timeout=60).status_code == 200
    rca = wait_for(lambda: (r := httpx.get(f"{cli.url}/api/v1/rca/{anomaly_id}", headers=admin,
                                           timeout=30).json())["status"] != "pending" and r,
                   timeout=60, what="the alert's RCA")

    assert "stopped" in cli("down").stdout
    assert not (cli.data_dir / "engine.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{cli.url}/-/healthy", timeout=5)

    listed = json.loads(cli("tenant", "list", "--json").stdout)
    assert [(t["tenant_id"], t["plan"]) for t in listed["tenants"]] == [("acme-corp", "pro"), ("default", "free"),
                                                                                ("beta", "free")]

    cli("up", "--detach")
    status = httpx.get(f"{cli.url}/api/v1/status", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert status.status_code == 200  # the same generated secret verifies the old token
    listed = json.loads(cli("tenant", "list", "--json").stdout)
    # "default" is alerts.default_tenant, made at the first start for alerts with no tenant label (#18).
    assert [t["tenant_id"] for t in listed["tenants"]] == ["acme-corp", "default", "beta"]
    assert httpx.get(f"{cli.url}/api/v1/anomalies", headers={"X-API-Key": key}, timeout=30).json()["anomalies"][0][
        "anomaly_id"] == anomaly_id  # the key, and the anomaly
    assert httpx.get(f"{cli.url}/api/v1/rca/{anomaly_id}", headers=admin, timeout=30).json() == rca
    found = wait_for(lambda: httpx.post(f"{cli.url}/api/v1/incidents/search", json={"query": "payment restart"},
                                        headers=admin, timeout=60).json()["incidents"], timeout=60,
                     what="the resolution to be searchable")  # embedded before the stop, or by the backlog scan
    assert found[0]["incident_id"] == anomaly_id
    cli("down")
    record_property("measured", f"tenants, the key, anomaly {anomaly_id}, its RCA ({rca['status']}) and the "
                                "resolution all found after the restart; old token 200")


def test_down_when_nothing_runs(cli: Cli) -> None:
    assert "not running" in cli("down").stdout


@pytest.mark.reliability(
    fault="aiops up in production mode with a generated, then a short JWT secret",
    promise="refuses to start (exit 2, saying why); nothing runs",
)
def test_production_mode_refuses_generated_or_short_secrets(cli: Cli, record_property) -> None:
    generated = cli("up", "--detach", check=False, AIOPS_MODE="production")
    assert generated.returncode == 2
    assert "refuses a generated secret" in generated.stderr
    short = cli("up", "--detach", check=False, AIOPS_MODE="production", AIOPS_JWT_SECRET="short")
    assert short.returncode == 2
    assert "at least 32" in short.stderr
    assert not (cli.data_dir / "engine.json").exists()
    record_property("measured", f"generated secret: exit {generated.returncode}; 5-character secret: exit "
                                f"{short.returncode}; no engine started")


def test_tenant_plan_must_be_configured(cli: Cli) -> None:
    bad = cli("tenant", "create", "acme", "--name", "Acme", "--plan", "platinum", check=False)
    assert bad.returncode == 2
    assert "platinum" in bad.stderr
