"""A throwaway engine for benchmarks: ``aiops up --detach`` on a scratch data dir and free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from aiops.auth.roles import Role
from aiops.auth.tokens import issue_token

AIOPS = [sys.executable, "-m", "aiops.cli.main"]
SECRET = "bench-secret-" + "b" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class BenchEngine:
    data_dir: Path
    env: dict[str, str]
    http_url: str
    webhook_url: str

    def token(self, tenant: str, role: Role = Role.SUPER_ADMIN) -> str:
        return issue_token(SECRET, tenant_id=tenant, user_id="bench", role=role, ttl_seconds=3600)

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.http_url, timeout=60, **kwargs)

    def wait_settled(self, timeout: float = 180.0) -> None:
        """Until every component reports healthy (vectorizers load their model after start)."""
        deadline = time.monotonic() + timeout
        with self.client(headers={"Authorization": f"Bearer {self.token('root')}"}) as http:
            while time.monotonic() < deadline:
                if http.get("/api/v1/status").json().get("status") == "ok":
                    return
                time.sleep(0.5)
        raise RuntimeError("the bench engine did not settle")

    def processes(self) -> list[psutil.Process]:
        """The engine process and everything it started (Ray, its workers)."""
        state = (self.data_dir / "engine.json").read_text()
        import json

        root = psutil.Process(json.loads(state)["pid"])
        return [root, *root.children(recursive=True)]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far per kind of engine process (``StorageOwner``, ``raylet``, ...)."""
        used: dict[str, float] = {}
        for process in self.processes():
            try:
                command = process.cmdline()
                times = process.cpu_times()
            except psutil.Error:
                continue
            title = process_title(process, command)
            used[title] = used.get(title, 0.0) + times.user + times.system
        return used

    def rss_bytes(self) -> int:
        total = 0
        for process in self.processes():
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total


def process_title(process: psutil.Process, command: list[str] | None = None) -> str:
    """What an engine process is: an actor's class (``WatchdogShard``), ``raylet``, ``gcs_server``, ..."""
    command = process.cmdline() if command is None else command
    title = command[0] if command else process.name()
    if title.startswith("ray::"):  # Ray titles actors "ray::Class.method" while they run one
        return title[5:].split(".")[0].split(":")[0]
    if Path(title).name.startswith("python") and len(command) > 1:
        args = [arg for arg in command[1:] if arg not in ("-u", "-B", "-E", "-s", "-S", "-O")]  # interpreter flags
        if len(args) > 1 and args[0] == "-m":
            return args[1]
        if len(args) > 1 and args[0] == "-c":  # multiprocessing's helpers: name the function run
            return "python -c " + args[1].split("import ")[-1].split(";")[0].strip()[:40]
        return Path(args[0]).name if args else Path(title).name
    return Path(title).name


@contextmanager
def bench_engine(**settings: str) -> Iterator[BenchEngine]:
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as scratch:
        data_dir = Path(scratch) / "data"
        http_port, webhook_port = free_port(), free_port()
        env = {name: value for name, value in os.environ.items() if not name.startswith("AIOPS_")}
        env.update(AIOPS_DATA_DIR=str(data_dir), AIOPS_HTTP_PORT=str(http_port), AIOPS_WEBHOOK_PORT=str(webhook_port),
                   AIOPS_RAY__DASHBOARD="false", AIOPS_JWT_SECRET=SECRET, AIOPS_LOG_LEVEL="WARNING", **settings)
        subprocess.run([*AIOPS, "up", "--detach"], env=env, check=True, capture_output=True, timeout=300)
        try:
            engine = BenchEngine(data_dir, env, f"http://127.0.0.1:{http_port}", f"http://127.0.0.1:{webhook_port}")
            engine.wait_settled()
            yield engine
        finally:
            subprocess.run([*AIOPS, "down"], env=env, check=False, capture_output=True, timeout=300)
