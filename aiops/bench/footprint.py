"""The engine's footprint at rest: memory, which processes load torch, idle CPU, start time.

``aiops up --detach`` on a scratch data dir and free ports (dashboard on, as ``make run``
starts it), then, every figure over the process tree of that engine (the ``aiops up``
process, the Ray it started: GCS, raylet, dashboard and its agent, every worker):

- start to ready: the command's start until ``/api/v1/status`` answers 200;
- RSS of all those processes together a minute after ready (and PSS, which counts pages
  shared between processes once, so the sum is not inflated by shared libraries);
- the processes that have torch mapped (``libtorch`` in ``/proc/<pid>/maps``): a process
  that imported torch has it mapped;
- idle CPU: CPU seconds of all those processes over the next 60 s, divided by 60 s, so
  other load on the machine matters less than with a ``top`` reading;
- the same per process (one row each, the biggest RSS first: PSS, idle CPU, torch), so the
  big ones (Ray's GCS, raylet, dashboard, agents, idle workers, Serve, our actors) show;
- cold import of the API replica's code (``deployments.app`` and ``deployments.api``) in a
  fresh interpreter, and whether that import loaded torch;
- the floor under all of it: the same RSS, PSS and idle CPU of a Ray started the way the
  engine starts it (dashboard on, the same settings and environment) with Serve's controller
  and proxy and none of the engine's actors or deployments: what the binding shape (Ray
  actors, Serve, the Ray dashboard) costs before the engine runs anything.

The machine's load average is recorded with every figure: on a shared machine start time
and CPU depend on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import psutil

from aiops.bench.engine_process import AIOPS, SECRET, free_port, process_title
from aiops.bench.report import BenchResult

IDLE_AFTER_READY_SECONDS = 60.0
CPU_WINDOW_SECONDS = 60.0
FLOOR_START_TIMEOUT_SECONDS = 300.0
GIB = 1024**3


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


def torch_mapped(pid: int) -> bool:
    """Whether the process has torch's native library mapped (it imported torch)."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return any("libtorch" in line for line in maps)
    except OSError:
        return False


def engine_tree(data_dir: Path) -> list[psutil.Process]:
    root = psutil.Process(json.loads((data_dir / "engine.json").read_text())["pid"])
    return [root, *root.children(recursive=True)]


def app_import_seconds() -> tuple[float, bool]:
    """Cold import of the API replica's code in a fresh interpreter: seconds, and whether torch came with it."""
    code = ("import sys, time; t = time.perf_counter(); import deployments.app, deployments.api; "
            "print(time.perf_counter() - t, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=300)
    seconds, torch = out.stdout.split()
    return float(seconds), torch == "True"


def run() -> BenchResult:
    result = BenchResult("footprint")
    seconds, torch = app_import_seconds()
    result.add("cold import of the API replica's app", seconds, "s",
               note=f"deployments.app + deployments.api; torch imported: {torch}; {_load()}")
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as scratch:
        data_dir = Path(scratch) / "data"
        http_port = free_port()
        env = {name: value for name, value in os.environ.items() if not name.startswith("AIOPS_")}
        env.update(AIOPS_DATA_DIR=str(data_dir), AIOPS_HTTP_PORT=str(http_port), AIOPS_WEBHOOK_PORT=str(free_port()),
                   AIOPS_RAY__DASHBOARD_PORT=str(free_port()), AIOPS_JWT_SECRET=SECRET)
        from aiops.auth.roles import Role
        from aiops.auth.tokens import issue_token

        token = issue_token(SECRET, tenant_id="bench", user_id="bench", role=Role.SUPER_ADMIN, ttl_seconds=3600)
        began = time.monotonic()
        subprocess.run([*AIOPS, "up", "--detach"], env=env, check=True, capture_output=True, timeout=300)
        engine = engine_tree(data_dir)
        try:
            status = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/status",
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
            status.raise_for_status()
            ready = time.monotonic()
            result.add("start to ready (aiops up --detach)", ready - began, "s", "< 20", note=_load())
            time.sleep(max(0.0, ready + IDLE_AFTER_READY_SECONDS - time.monotonic()))
            engine = engine_tree(data_dir)  # with every worker started since
            _measure_idle(result, engine)
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run([*AIOPS, "down"], env=env, check=False, capture_output=True, timeout=300)
        # The floor must not be measured beside what is left of the engine.
        _, alive = psutil.wait_procs(engine, timeout=60)
        if alive:
            raise RuntimeError(f"{len(alive)} engine processes still run after aiops down: "
                               f"{sorted(p.pid for p in alive)}")
        env.update(AIOPS_HTTP_PORT=str(free_port()), AIOPS_RAY__DASHBOARD_PORT=str(free_port()))
        _measure_floor(result, env, Path(scratch) / "floor")
    return result


@dataclass
class ProcessFootprint:
    """One engine process at rest: what it is, its memory (bytes), CPU over the idle window (share of a core)."""

    pid: int
    title: str
    rss: int
    pss: int
    torch: bool
    cpu: float = 0.0


def _footprints(processes: list[psutil.Process]) -> list[ProcessFootprint]:
    rows = []
    for process in processes:
        try:
            title = process_title(process)
            memory = process.memory_full_info()
        except psutil.Error:
            continue
        rows.append(ProcessFootprint(process.pid, title, memory.rss, getattr(memory, "pss", memory.rss),
                                     torch_mapped(process.pid)))
    return rows


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    used: dict[int, float] = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        used[process.pid] = times.user + times.system
    return used


def _measure_idle(result: BenchResult, processes: list[psutil.Process]) -> None:
    rows = _footprints(processes)
    load = _load()
    result.add("RSS of every engine process, idle, a minute after ready", sum(r.rss for r in rows) / GIB, "GiB",
               "<= 3", note=f"{len(rows)} processes; {load}")
    result.add("PSS of every engine process (shared pages counted once)", sum(r.pss for r in rows) / GIB, "GiB",
               note=load)
    with_torch = sorted(r.title for r in rows if r.torch)
    result.add("processes with torch loaded", len(with_torch), "", note=", ".join(with_torch) or "none")

    before, began = _cpu_seconds(processes), time.monotonic()
    time.sleep(CPU_WINDOW_SECONDS)
    after, wall = _cpu_seconds(processes), time.monotonic() - began
    for row in rows:
        if row.pid in after and row.pid in before:
            row.cpu = (after[row.pid] - before[row.pid]) / wall
    result.add("idle CPU of the whole engine (CPU seconds / wall)", 100 * sum(r.cpu for r in rows), "% of a core",
               "< 10", note=f"over {CPU_WINDOW_SECONDS:.0f} s; {_load()}")
    # Every process, the biggest first: RSS as the value, PSS, idle CPU and torch in the note.
    for row in sorted(rows, key=lambda r: -r.rss):
        result.add(f"process {row.title} (pid {row.pid}) RSS", row.rss / 2**20, "MiB",
                   note=f"PSS {row.pss / 2**20:.0f} MiB; idle CPU {100 * row.cpu:.2f} %"
                        + ("; torch" if row.torch else ""))


def _first_line(stream: IO[str], timeout: float) -> str:
    """The stream's first line, or "" when none comes within ``timeout`` seconds (or it closes)."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return stream.readline().strip()


def _measure_floor(result: BenchResult, env: dict[str, str], data_dir: Path) -> None:
    """RSS, PSS and idle CPU of Ray, its dashboard and Serve alone, started as the engine starts
    them, and of the driver that started them (as the engine's figures include ``aiops up``)."""
    with tempfile.TemporaryFile("w+", errors="replace") as errors, subprocess.Popen(
            [sys.executable, "-m", "aiops.bench.ray_floor", str(data_dir)], env=env, stdout=subprocess.PIPE,
            stderr=errors, text=True) as driver:
        assert driver.stdout is not None
        root = psutil.Process(driver.pid)
        try:
            line = _first_line(driver.stdout, FLOOR_START_TIMEOUT_SECONDS)
            if not line.isdigit():
                errors.seek(0)
                raise RuntimeError(f"Ray and Serve did not start for the floor measurement: {errors.read()[-1000:]}")
            time.sleep(IDLE_AFTER_READY_SECONDS)
            _floor_figures(result, [root, *root.children(recursive=True)], empty_pid=int(line))
        finally:
            _stop_floor(driver, root)


def _floor_figures(result: BenchResult, processes: list[psutil.Process], empty_pid: int) -> None:
    rows = _footprints(processes)
    before, began = _cpu_seconds(processes), time.monotonic()
    time.sleep(CPU_WINDOW_SECONDS)
    after, wall = _cpu_seconds(processes), time.monotonic() - began
    for row in rows:
        row.cpu = (after.get(row.pid, 0.0) - before.get(row.pid, 0.0)) / wall
    floor = [row for row in rows if row.pid != empty_pid]
    result.add("floor: RSS of Ray, its dashboard and Serve alone and their driver (no engine actors)",
               sum(r.rss for r in floor) / GIB, "GiB", note=f"{len(floor)} processes; {_load()}")
    result.add("floor: PSS of the same", sum(r.pss for r in floor) / GIB, "GiB")
    result.add("floor: idle CPU of the same", 100 * sum(r.cpu for r in floor), "% of a core",
               note=f"over {CPU_WINDOW_SECONDS:.0f} s; {_load()}")
    for row in rows:
        if row.pid == empty_pid:
            result.add("floor: one actor process that does nothing, RSS", row.rss / 2**20, "MiB",
                       note=f"PSS {row.pss / 2**20:.0f} MiB; idle CPU {100 * row.cpu:.2f} % of a core")
    for row in sorted(floor, key=lambda r: -r.rss):
        result.add(f"floor process {row.title} RSS", row.rss / 2**20, "MiB",
                   note=f"PSS {row.pss / 2**20:.0f} MiB; idle CPU {100 * row.cpu:.2f} %")


def _stop_floor(driver: subprocess.Popen[str], root: psutil.Process) -> None:
    """Interrupt the floor's driver (its exit stops the Ray it started); kill whatever outlives it."""
    try:
        started = root.children(recursive=True)
    except psutil.Error:
        started = []
    driver.send_signal(signal.SIGINT)
    try:
        driver.wait(timeout=60)
    except subprocess.TimeoutExpired:
        driver.kill()
    for process in started:
        with contextlib.suppress(psutil.Error):
            process.kill()
