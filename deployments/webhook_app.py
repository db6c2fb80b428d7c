"""The ASGI app behind port 9093 (served by the ``webhook-listener-0`` actor).

Open by design (Alertmanager's network is the trust boundary): health endpoints here; the
Alertmanager webhook route hands each payload to the alert-intake deployment.
"""

from __future__ import annotations

from fastapi import FastAPI

from aiops import __version__
from aiops.schemas.status import HealthResponse
from aiops.settings import Settings
from deployments.errors import install_error_handlers


def create_webhook_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="AIOps Engine Alertmanager webhook",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)

    @app.get("/-/healthy", response_model=HealthResponse, tags=["health"])
    async def healthy() -> HealthResponse:
        return HealthResponse(status="ok")

    @app.get("/-/ready", response_model=HealthResponse, tags=["health"])
    async def ready() -> HealthResponse:
        return HealthResponse(status="ok")

    return app
