"""Logging for the engine's own processes: one line per event, JSON by default.

JSON lines carry the time, level, logger, message and, when known, the ``request_id`` and
``tenant_id`` of the request being served (context variables set by the API's middleware
and authentication, so every log line of a request can be found by either), plus the Ray
actor's name, so a log search can follow one request or one tenant across processes.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
TENANT_ID: ContextVar[str | None] = ContextVar("tenant_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _actor_name() -> str | None:
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_actor_name()
    except Exception:  # not in a Ray worker, or Ray shutting down
        return None
    return None


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._actor = _actor_name()

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, var in (("request_id", REQUEST_ID), ("tenant_id", TENANT_ID)):
            value = var.get()
            if value:
                entry[key] = value
        if self._actor:
            entry["actor"] = self._actor
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Install the engine's handler once per process (``fmt``: ``json`` or ``text``)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_aiops", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._aiops = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(level)
    # Third-party chatter stays at warnings unless debugging.
    for noisy in ("httpx", "httpcore", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING if level != "DEBUG" else logging.DEBUG)


def configure_engine_logging(settings) -> None:
    """For the engine's actors and API replicas: the settings' level and format."""
    configure_logging(settings.log_level, settings.log_format)
