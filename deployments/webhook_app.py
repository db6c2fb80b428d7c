"""The ASGI app behind port 9093 (served by the ``webhook-listener-0`` actor).

Open by design, as the reference says (Alertmanager's network is the trust boundary),
unless a ``webhook``-scoped API key is presented (Alertmanager's
``http_config.authorization``): then it must be valid and decides the tenant. With
``alerts.require_webhook_key`` (on by default in production mode) a request without a key
is refused (401) before its body is read; and a tenant that has webhook keys refuses
alerts that come without one whatever the setting (see :mod:`aiops.alerts.intake`).
Order of checks: content type, credentials, size, then parsing. The intake stage stores
the alerts and their anomalies and queues their RCAs in ClickHouse (one storage call per
payload) before the 200, so Alertmanager's retry covers any failure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI, Request

from actors.directory import ActorDirectory, wake_incident_manager, wake_rca_workers
from aiops import __version__
from aiops.alerts.intake import AlertIntake
from aiops.auth.api_keys import Scope, hash_key, looks_like_key
from aiops.errors import Forbidden, Unauthorized
from aiops.schemas.alerts import AlertmanagerPayload, WebhookAnswer
from aiops.schemas.status import HealthResponse
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway
from deployments.access import KeyDirectory, TenantDirectory, presented_credential
from deployments.bodies import ReferenceJSONResponse, parse_json, read_body, require_content_type
from deployments.deadlines import RequestDeadline, timely_h11
from deployments.errors import install_error_handlers
from deployments.routers import error_responses


@dataclass(frozen=True)
class Presented:
    """The webhook key a request came with: its tenant and id (both None/"" for no key)."""

    tenant_id: str | None = None
    key_id: str = ""


class WebhookKeys:
    """A ``webhook`` key: when presented it must be valid; absent is fine unless ``required``."""

    def __init__(self, keys: KeyDirectory, tenants: TenantDirectory, *, required: bool) -> None:
        self._keys = keys
        self._tenants = tenants
        self._required = required

    async def presented(self, request: Request) -> Presented:
        if not (request.headers.get("authorization") or request.headers.get("x-api-key")):
            if self._required:
                raise Unauthorized("this port requires a webhook-scoped API key (alerts.require_webhook_key): "
                                   "set it in Alertmanager's http_config.authorization")
            return Presented()
        credential = presented_credential(request)
        if not looks_like_key(credential):
            raise Unauthorized("this port takes a webhook-scoped API key (isage_...) or no credential at all; "
                               "JWTs are for the REST API")
        key = await self._keys.find(hash_key(credential))
        if key is None:
            raise Unauthorized("invalid API key")
        if key.revoked_at is not None or (key.expires_at is not None and datetime.now(UTC) >= key.expires_at):
            raise Unauthorized("API key revoked or expired")
        if await self._tenants.plan_of(key.tenant_id) is None:
            raise Unauthorized(f"tenant {key.tenant_id!r} does not exist")
        if key.scope != Scope.WEBHOOK:
            raise Forbidden(f"an API key of scope {key.scope!r} cannot post alerts (needs 'webhook')")
        return Presented(key.tenant_id, key.key_id)


def create_webhook_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="AIOps Engine Alertmanager webhook",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(RequestDeadline, seconds=settings.alerts.request_timeout_seconds)
    store = StoreGateway.for_settings(settings)
    tenants = TenantDirectory(settings, store)
    keys = WebhookKeys(KeyDirectory(settings, store), tenants, required=settings.webhook_key_required)
    actors = ActorDirectory(settings)
    intake = AlertIntake(settings, store.aio, queued=lambda ids: wake_rca_workers(actors, ids))

    @app.get("/-/healthy", response_model=HealthResponse, tags=["health"])
    async def healthy() -> HealthResponse:
        return HealthResponse(status="ok")

    @app.get("/-/ready", response_model=HealthResponse, tags=["health"])
    async def ready() -> HealthResponse:
        return HealthResponse(status="ok")

    @app.post("/api/v1/alerts/webhook", response_model=WebhookAnswer, tags=["alerts"],
              response_class=ReferenceJSONResponse,
              responses=error_responses(400, 401, 403, 413, 415, 422, 503),
              openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}})
    async def alertmanager_webhook(request: Request) -> WebhookAnswer:
        """Alertmanager's webhook (version 4). Each firing alert becomes or joins an anomaly and requests an RCA."""
        require_content_type(request, "application/json")
        key = await keys.presented(request)
        body = await read_body(request, settings.alerts.max_body_bytes)
        payload = await asyncio.to_thread(parse_json, body, AlertmanagerPayload)  # off the event loop
        answer = await intake.receive(payload, key.tenant_id, key.key_id)
        wake_incident_manager(actors)  # the alerts are stored: group them now, not at its next poll
        return answer

    return app


def webhook_server_config(settings: Settings) -> uvicorn.Config:
    """How the listener actor serves this app on its own port: every request must arrive (head
    and body) within ``alerts.request_timeout_seconds``, idle connections close after
    ``alerts.keep_alive_seconds``, at most ``alerts.max_connections`` are served at once."""
    alerts = settings.alerts
    return uvicorn.Config(
        create_webhook_app(settings),
        http=timely_h11(alerts.request_timeout_seconds),  # a request head must arrive in time
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_keep_alive=alerts.keep_alive_seconds,  # type: ignore[arg-type]  # any seconds (call_later)
        limit_concurrency=alerts.max_connections,  # beyond: 503, not an unbounded pile of connections
    )
