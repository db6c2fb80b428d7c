"""The engine's state file (``<data dir>/engine.json``): what ``aiops up`` started, for
``aiops down`` and for CLI commands that must talk to the running engine instead of
opening its storage themselves.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from aiops.settings import Settings

STATE_FILE = "engine.json"
LOG_FILE = "engine.log"


@dataclass(frozen=True)
class EngineState:
    pid: int
    local_ray: bool  # True: the engine process owns its Ray instance and stops it on exit
    ray_address: str
    namespace: str
    http_url: str
    webhook_url: str
    dashboard_url: str | None
    started_at: str
    ray_auth_mode: str | None = None  # how a CLI process must join this Ray

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.data_dir / STATE_FILE

    @classmethod
    def read(cls, settings: Settings) -> EngineState | None:
        try:
            return cls(**json.loads(cls.path(settings).read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def write(self, settings: Settings) -> None:
        path = self.path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps(asdict(self), indent=2))
        scratch.replace(path)

    @classmethod
    def clear(cls, settings: Settings) -> None:
        cls.path(settings).unlink(missing_ok=True)

    def process_alive(self) -> bool:
        """Whether the process that wrote this file still runs."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
