"""Shared fixtures: settings on a temporary data dir, free ports, and one real engine.

The ``engine`` fixture starts a real local Ray, every actor, Serve and the second port,
once per test session, and talks to it over real HTTP. Nothing here is mocked.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# Tests decide their own settings: nothing leaks in from the developer's shell.
for _name in [name for name in os.environ if name.startswith("AIOPS_")]:
    del os.environ[_name]

from aiops.auth.roles import Role  # noqa: E402
from aiops.auth.tokens import issue_token  # noqa: E402
from aiops.settings import Settings, load_settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TENANTS = ("acme", "globex")  # made by the engine fixture, plan "pro"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll until ``condition()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # keep polling; report the last error on timeout
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last error: {last_error!r}")


def file_contents(root: Path, max_bytes: int | None = None) -> Iterator[tuple[Path, bytes]]:
    """Every file under ``root`` (symlinked folders not followed) with its bytes, files of
    ``max_bytes`` or more skipped, read while the engine runs: ClickHouse's background merges
    remove parts in the middle of the walk, so a file or folder gone before it is read is
    skipped (its rows now live in the merged part)."""
    for folder, _, names in os.walk(root):  # os.walk skips a folder removed before it is listed
        for name in names:
            path = Path(folder) / name
            try:
                if not path.is_file() or (max_bytes is not None and path.stat().st_size >= max_bytes):
                    continue
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            yield path, data


def small_engine_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for an engine that fits beside the test runner on two cores."""
    base = {
        "data_dir": data_dir,
        "http_port": free_port(),
        "webhook_port": free_port(),
        "jwt_secret": "test-secret-" + "x" * 40,
        "watchdog": {"shards": 2},
        "rca": {"workers": 1},
        "ray": {"dashboard": False},
        "serve": {"request_timeout_seconds": 20},  # long enough for a cold model load, short for slow-drip tests
        # 9093's own deadlines, short for its slow-drip and idle-connection tests.
        "alerts": {"request_timeout_seconds": 5, "keep_alive_seconds": 5},
        # A plan small enough to reach its limits in a test.
        "plans": {"tiny": {"requests_per_second": 1000, "points_per_second": 50, "max_series": 3}},
        # Spans and logs stamped a few minutes back are rolled up within seconds of arriving.
        "otlp": {"rollup_interval_seconds": 0.5, "rollup_lateness_seconds": 5},
        # A receiver back from a minute's outage hears within seconds (retries at most 4 s apart, not given up).
        "notifications": {"retry": {"max_delay_seconds": 4, "max_attempts": 200}},
    }
    base.update(overrides)
    return load_settings(**base)


@dataclass
class RunningEngine:
    settings: Settings
    http: httpx.Client
    webhook: httpx.Client

    def token(self, *, tenant: str = "acme", user: str = "alice@acme.com", role: Role = Role.ADMIN,
              ttl: int = 3600) -> str:
        return issue_token(
            self.settings.jwt_secret.get_secret_value(),
            tenant_id=tenant, user_id=user, role=role, ttl_seconds=ttl,
        )

    def auth(self, **identity) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**identity)}"}

    def create_key(self, scope: str, *, tenant: str = "acme", rate_limit_rps: float = 1000.0,
                   expires_at: str | None = None) -> tuple[str, str]:
        """A new API key of ``tenant``; returns ``(key_id, api_key)``."""
        body = {"name": f"{scope} key", "scope": scope, "rate_limit_rps": rate_limit_rps}
        if expires_at:
            body["expires_at"] = expires_at
        response = self.http.post("/api/v1/apikeys", json=body, headers=self.auth(tenant=tenant, role=Role.ADMIN))
        assert response.status_code == 201, response.text
        created = response.json()
        return created["key_id"], created["api_key"]


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    import ray

    from aiops.engine import Engine

    settings = small_engine_settings(tmp_path_factory.mktemp("engine-data"))
    ray.init(address="local", num_cpus=2, include_dashboard=False, namespace=settings.ray.namespace,
             log_to_driver=False)
    running = Engine(settings)
    running.start()
    http = httpx.Client(base_url=running.http_url, timeout=30)
    webhook = httpx.Client(base_url=running.webhook_url, timeout=30)
    handle = RunningEngine(settings, http, webhook)
    for tenant_id in TENANTS:
        response = http.post("/api/v1/tenants", json={"tenant_id": tenant_id, "name": tenant_id.title(), "plan": "pro"},
                             headers=handle.auth(tenant="root", role=Role.SUPER_ADMIN))
        assert response.status_code == 201, response.text
    # RCA workers load their analysis (torch) after the engine is ready: tests get a settled engine.
    root = handle.auth(tenant="root", role=Role.SUPER_ADMIN)
    wait_for(lambda: http.get("/api/v1/status", headers=root).json()["components"]["rca"] == "ready",
             timeout=180, interval=0.5, what="the RCA workers' analysis loaded")
    try:
        yield handle
    finally:
        http.close()
        webhook.close()
        running.stop()
        ray.shutdown()


# -- RELIABILITY.md: outcomes of the tests marked ``reliability`` (see tests/reliability.py) --
_RELIABILITY_ROWS: list[dict] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.skipped):
        from tests.reliability import collect

        row = collect(item, report)
        if row is not None:
            _RELIABILITY_ROWS.append(row)


def pytest_sessionfinish(session, exitstatus) -> None:
    from tests.reliability import save

    save(_RELIABILITY_ROWS)
