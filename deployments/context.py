"""What a request handler may use, built once per API replica (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass

from actors.directory import ActorDirectory
from aiops.auth.tokens import TokenVerifier
from aiops.logs import configure_engine_logging
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway
from deployments.access import Authenticator
from deployments.components import ComponentProbe
from deployments.engine_client import EngineClient
from deployments.ingestion import IngestPipeline
from deployments.limits import LeasedLimiter
from deployments.observability import EngineMetrics
from deployments.telemetry import TelemetryIntake


@dataclass
class ApiContext:
    settings: Settings
    store: StoreGateway
    auth: Authenticator
    limiter: LeasedLimiter
    actors: ActorDirectory
    engine: EngineClient
    probe: ComponentProbe
    metrics: EngineMetrics
    ingest: IngestPipeline
    telemetry: TelemetryIntake

    @classmethod
    def build(cls, settings: Settings) -> ApiContext:
        configure_engine_logging(settings)
        # The engine resolves the secret before deploying, so settings carry it here.
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        store = StoreGateway.for_settings(settings)
        actors = ActorDirectory(settings)
        limiter = LeasedLimiter(actors)
        auth = Authenticator(settings, store, TokenVerifier(settings, secret), limiter)
        metrics = EngineMetrics(settings.metrics)
        return cls(
            settings=settings,
            store=store,
            auth=auth,
            limiter=limiter,
            actors=actors,
            engine=EngineClient(settings, store, actors),
            probe=ComponentProbe(settings, store, actors),
            metrics=metrics,
            ingest=IngestPipeline(settings, store, auth.tenants, limiter, actors, metrics),
            telemetry=TelemetryIntake(settings, store, auth.tenants, limiter, metrics),
        )

    def close(self) -> None:
        self.store.close()
