"""``webhook-listener-0``: serves the Alertmanager port (9093) beside Serve's single proxy port.

Ray Serve exposes one HTTP port per cluster, so this small actor runs uvicorn on its own
thread, on a socket it binds itself with ``SO_REUSEADDR`` (a restarted actor gets its port
back at once, and a bind error is reported instead of killing the worker). The app it
serves (:mod:`deployments.webhook_app`) writes through the storage gateway; the listener
itself holds no state, so a restart loses nothing (Alertmanager retries what failed).
Every request must arrive (head and body) within ``alerts.request_timeout_seconds``,
idle connections close after ``alerts.keep_alive_seconds``, and at most
``alerts.max_connections`` are served at once (see :mod:`deployments.deadlines`).
"""

from __future__ import annotations

import socket
import threading

import uvicorn

from aiops.logs import configure_engine_logging
from aiops.settings import Settings
from deployments.deadlines import timely_h11
from deployments.webhook_app import create_webhook_app


class WebhookListener:
    def __init__(self, settings: Settings) -> None:
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
        alerts = settings.alerts
        config = uvicorn.Config(
            create_webhook_app(settings),
            http=timely_h11(alerts.request_timeout_seconds),  # a request head must arrive in time
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=alerts.keep_alive_seconds,
            limit_concurrency=alerts.max_connections,  # beyond: 503, not an unbounded pile of connections
        )
        self._server = uvicorn.Server(config)
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
