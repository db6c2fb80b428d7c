"""The REST API on port 8080: a FastAPI app per replica, behind Ray Serve's proxy."""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from ray import serve

from aiops import __version__
from aiops.schemas.common import ErrorResponse
from aiops.settings import Settings
from deployments.context import ApiContext
from deployments.errors import install_error_handlers
from deployments.observability import MetricsMiddleware
from deployments.routers import (
    anomalies,
    apikeys,
    health,
    incident_memory,
    incidents,
    ingest,
    logs,
    models,
    notifications,
    otlp,
    rbac,
    rca,
    series,
    status,
    tenants,
    topology,
    traces,
)

ROUTERS = (
    health.router, status.router, tenants.router, rbac.router, apikeys.router, ingest.router, series.router,
    anomalies.router, models.router, rca.router, topology.router, incident_memory.router, otlp.router, traces.router,
    logs.router, incidents.router, notifications.router,
)

# Documented in OpenAPI for every route, because every route can answer them.
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid credentials"},
    403: {"model": ErrorResponse, "description": "Not allowed"},
    404: {"model": ErrorResponse, "description": "Not found (also another tenant's objects)"},
    422: {"model": ErrorResponse, "description": "Invalid input"},
    429: {"model": ErrorResponse, "description": "Rate limited (see Retry-After)"},
    503: {"model": ErrorResponse, "description": "Not ready or overloaded"},
}


def create_api(context: ApiContext) -> FastAPI:
    """Build the ASGI app around one replica's context."""
    app = FastAPI(
        title="AIOps Engine API",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        swagger_ui_oauth2_redirect_url="/api/v1/docs/oauth2-redirect",
        redoc_url=None,
    )
    app.state.context = context
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=context.metrics)
    for router in ROUTERS:
        app.include_router(router, responses=COMMON_ERRORS if router.prefix.startswith("/api") else None)
    return app


class ServeKnobs(BaseModel):
    """What ``user_config`` may set on the API deployment (unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid")

    max_batches_in_flight: int | None = Field(None, ge=1, le=1024)  # ingest batches per replica at once
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None


@serve.deployment(
    name="ApiGateway",
    ray_actor_options={"num_cpus": 0},
    max_ongoing_requests=64,
    health_check_period_s=10,
)
@serve.ingress()
class ApiGateway:
    """Serve replica of the REST API. Its context is built here, not at import."""

    def __init__(self, settings: Settings) -> None:
        self._context = ApiContext.build(settings)

    def reconfigure(self, user_config: dict) -> None:
        """Serve's ``user_config`` (in ``configs/serve.yaml``): knobs changed without a restart."""
        knobs = ServeKnobs.model_validate(user_config or {})
        if knobs.max_batches_in_flight is not None:
            self._context.ingest.limit_in_flight(knobs.max_batches_in_flight)
            self._context.telemetry.limit_in_flight(knobs.max_batches_in_flight)
        if knobs.log_level is not None:
            logging.getLogger().setLevel(knobs.log_level)

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_api(self._context)

    def __del__(self) -> None:
        context = getattr(self, "_context", None)
        if context is not None:
            context.close()
