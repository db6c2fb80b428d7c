"""``webhook-listener-0``: serves the Alertmanager port (9093) beside Serve's single proxy port.

Ray Serve exposes one HTTP port per cluster, so this small actor runs uvicorn on its own
thread, on a socket it binds itself with ``SO_REUSEADDR`` (a restarted actor gets its port
back at once, and a bind error is reported instead of killing the worker). What it serves
and how is given by the engine (``server_config``:
:func:`deployments.webhook_app.webhook_server_config`, the Alertmanager app with its time
and connection limits), so this actor imports nothing from ``deployments/``. The app writes
through the storage gateway; the listener itself holds no state, so a restart loses nothing
(Alertmanager retries what failed).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import uvicorn

from aiops.logs import configure_engine_logging
from aiops.settings import Settings


class WebhookListener:
    def __init__(self, settings: Settings, server_config: Callable[[Settings], uvicorn.Config]) -> None:
        self._settings = settings
        configure_engine_logging(settings)
        self._port = settings.webhook_port
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.serve.host, self._port))
        except OSError as error:
            sock.close()
            raise RuntimeError(f"cannot listen on {settings.serve.host}:{self._port}: {error}") from None
        sock.listen(256)
        self._port = sock.getsockname()[1]
        self._server = uvicorn.Server(server_config(settings))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="webhook-http", daemon=True
        )
        self._thread.start()

    def status(self) -> dict:
        return {
            "state": "running" if self._server.started and self._thread.is_alive() else "starting",
            "port": self._port,
        }

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
