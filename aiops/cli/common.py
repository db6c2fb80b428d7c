"""What every CLI command shares: settings with readable errors, and storage access that
goes through the running engine when there is one (chDB lets one process own its path).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from aiops.engine import join_ray
from aiops.logs import configure_logging
from aiops.settings import Settings, SettingsError, load_settings
from aiops.state import EngineState
from aiops.storage.client import StorageUnavailable
from aiops.storage.gateway import StoreGateway


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as error:
        raise fail(str(error), 2) from None
    configure_logging(settings.log_level)
    return settings


def running_engine(settings: Settings) -> EngineState | None:
    """The engine started from this data dir, if its process is still alive."""
    state = EngineState.read(settings)
    return state if state is not None and state.process_alive() else None


@contextmanager
def engine_store(settings: Settings) -> Iterator[StoreGateway]:
    """Storage for a CLI command: through the running engine's Ray when it runs, else opened here."""
    state = running_engine(settings)
    joined = settings.embedded_storage and (state is not None or settings.ray_address is not None)
    if joined and state is not None:
        join_ray(state.ray_address, state.namespace, state.ray_auth_mode)
    elif joined:
        join_ray(str(settings.ray_address), settings.ray.namespace)
    gateway = StoreGateway(settings, in_process=not joined)
    try:
        if gateway.in_process:
            gateway.sync.migrate()
        yield gateway
    except StorageUnavailable as error:
        raise fail(f"storage unavailable: {error}") from None
    finally:
        gateway.close()
        if joined:
            import ray

            ray.shutdown()
