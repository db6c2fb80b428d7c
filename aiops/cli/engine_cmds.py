"""``aiops up`` and ``aiops down``: the engine's lifecycle from a terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import httpx
import typer

from aiops.auth.secrets import prepare_settings
from aiops.cli.common import fail, running_engine, settings_or_exit
from aiops.engine import Engine, EngineError, join_ray, ray_auth_mode
from aiops.settings import Settings, SettingsError
from aiops.state import LOG_FILE, EngineState

STOP_TIMEOUT_SECONDS = 60


def up(
    detach: bool = typer.Option(False, "--detach", help="Return once /api/v1/status answers; leave it running."),
) -> None:
    """Start the engine: Ray, the REST API, the Alertmanager webhook, all actors, storage."""
    settings = settings_or_exit()
    state = running_engine(settings)
    if state is not None:
        raise fail(f"the engine is already running (pid {state.pid}, {state.http_url}); `aiops down` stops it")
    try:
        settings = prepare_settings(settings)
    except SettingsError as error:
        raise fail(str(error), 2) from None
    if detach and not settings.ray_address:
        _spawn_detached(settings)
        return
    _run(settings, detach=detach)


def _run(settings: Settings, *, detach: bool) -> None:
    stop = threading.Event()
    started = time.monotonic()
    engine = Engine(settings)
    try:
        engine.start()
    except (EngineError, KeyboardInterrupt) as error:
        raise fail(f"engine failed to start: {error or 'interrupted'}") from None
    state = EngineState(
        pid=os.getpid(),
        local_ray=engine.started_ray,
        ray_address=_gcs_address(),
        namespace=settings.ray.namespace,
        http_url=engine.http_url,
        webhook_url=engine.webhook_url,
        dashboard_url=engine.dashboard_url,
        started_at=datetime.now(UTC).isoformat(),
        ray_auth_mode=ray_auth_mode(),
    )
    state.write(settings)
    typer.echo(
        f"AIOps Engine ready in {time.monotonic() - started:.1f} s\n"
        f"  REST API      {state.http_url}/api/v1\n"
        f"  Alertmanager  {state.webhook_url}/api/v1/alerts/webhook\n"
        f"  Ray dashboard {state.dashboard_url or 'disabled'}\n"
        f"  data          {settings.data_dir}"
    )
    if detach:  # joined a cluster: everything is detached there; just leave
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    typer.echo("Ctrl-C stops the engine.")
    stop.wait()
    typer.echo("stopping ...")
    engine.stop()
    EngineState.clear(settings)
    typer.echo("stopped.")


def _gcs_address() -> str:
    import ray

    return ray.get_runtime_context().gcs_address


def _spawn_detached(settings: Settings) -> None:
    """Run ``aiops up`` in the background (its own session), wait until it is ready."""
    log_path = settings.data_dir / LOG_FILE
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "aiops.cli.main", "up"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + settings.serve.ready_timeout_seconds + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise fail(f"the engine exited with code {child.returncode} while starting; {log_path} ends:\n{tail}")
        state = EngineState.read(settings)
        if state is not None and state.pid == child.pid and _status_answers(state.http_url):
            typer.echo(
                f"AIOps Engine running in the background (pid {child.pid})\n"
                f"  REST API      {state.http_url}/api/v1\n"
                f"  Alertmanager  {state.webhook_url}/api/v1/alerts/webhook\n"
                f"  Ray dashboard {state.dashboard_url or 'disabled'}\n"
                f"  log           {log_path}\n"
                "`aiops down` stops it."
            )
            return
        time.sleep(0.25)
    os.killpg(child.pid, signal.SIGTERM)
    raise fail(f"the engine did not become ready in time; see {log_path}")


def _status_answers(http_url: str) -> bool:
    """``GET /api/v1/status`` answers from the API itself: 200, or 401 without credentials.

    (Serve's proxy answers 404 or 503 for a route whose app is not running yet.)
    """
    try:
        return httpx.get(http_url + "/api/v1/status", timeout=2).status_code in (200, 401)
    except httpx.HTTPError:
        return False


def down() -> None:
    """Stop what `aiops up --detach` started (Serve, actors, the local Ray it started)."""
    settings = settings_or_exit()
    state = EngineState.read(settings)
    if state is not None and state.local_ray:
        _stop_process(state)
        EngineState.clear(settings)
        typer.echo("stopped.")
        return
    if state is None and not settings.ray_address:
        typer.echo("the engine is not running.")
        return
    # Joined a cluster: connect and remove what the engine deployed there.
    import ray

    settings = prepare_settings(settings)
    if state is not None:
        join_ray(state.ray_address, state.namespace, state.ray_auth_mode)
    else:
        join_ray(str(settings.ray_address), settings.ray.namespace)
    Engine(settings).stop()
    ray.shutdown()
    EngineState.clear(settings)
    typer.echo("stopped.")


def _stop_process(state: EngineState) -> None:
    if not state.process_alive():
        typer.echo(f"engine process {state.pid} is gone; cleaning up its state file.")
        return
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not state.process_alive():
            return
        time.sleep(0.2)
    typer.secho(f"engine process {state.pid} did not stop in {STOP_TIMEOUT_SECONDS} s; killing it", err=True)
    try:
        os.killpg(state.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
