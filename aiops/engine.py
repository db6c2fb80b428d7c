"""Starting and stopping the whole engine on Ray: actors, Serve, the second port.

``aiops up`` (and ``make run``) use :class:`Engine`; so do the tests, on their own Ray.
Start order matters only where data flows: the storage owner first (it migrates the
schema in its constructor, so no call reaches it earlier), then every other actor, then
Serve; readiness is the API's own ``/-/ready``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from aiops.settings import Settings
from aiops.storage.gateway import STORAGE_OWNER_NAME, StoreGateway

log = logging.getLogger(__name__)


class EngineError(RuntimeError):
    """The engine could not start or stop; the message says what to do."""


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def local_ray_options(settings: Settings) -> dict[str, Any]:
    """``ray.init`` arguments for a local Ray. The dashboard binds ``ray.dashboard_host``
    (loopback unless an operator names another interface: it has no authentication and its
    Jobs API runs arbitrary code), never the Serve host."""
    host = settings.ray.dashboard_host
    if settings.ray.dashboard and host not in LOOPBACK:
        log.warning("the Ray dashboard listens on %s (ray.dashboard_host): anyone who reaches that port can run "
                    "code on this cluster through its Jobs API; prefer 127.0.0.1 and an SSH tunnel or an "
                    "authenticating proxy", host)
    return {
        "address": "local",
        "num_cpus": settings.ray.num_cpus,
        "include_dashboard": settings.ray.dashboard,
        "dashboard_host": host,
        "dashboard_port": settings.ray.dashboard_port or None,
        "namespace": settings.ray.namespace,
        "log_to_driver": False,
        "configure_logging": False,
    }


QUIET_RAY_ENV = {
    # Serve's controller reconciles every 0.1 s by default, the engine's largest idle CPU cost
    # (~2 % of a core); Serve's own client polls a deploy every 1 s, so 0.5 s costs no start time.
    "RAY_SERVE_CONTROL_LOOP_INTERVAL_S": "0.5",
    # The proxy and replicas push their cached metrics every 0.1 s; Prometheus scrapes every 10 s.
    "RAY_SERVE_METRICS_EXPORT_INTERVAL_MS": "1000",
}
"""Ray and Serve settings a local Ray starts with (an operator's own value of each wins). Ray's
processes read them from their environment, which they inherit from the process that starts Ray,
so a cluster's nodes take them from their ``ray start`` command (``cluster.yaml``)."""


def connect_ray(settings: Settings) -> bool:
    """Join the configured cluster, or start a local Ray. Returns True when started here."""
    import os

    import ray

    if ray.is_initialized():
        return False
    if settings.ray_address:
        join_ray(settings.ray_address, settings.ray.namespace)
        return False
    for name, value in QUIET_RAY_ENV.items():
        os.environ.setdefault(name, value)
    ray.init(**local_ray_options(settings))
    return True


def serve_http_options(settings: Settings) -> dict[str, Any]:
    """``serve.start``'s ``http_options``: Serve's proxy on ``serve.host`` and the API port, with
    the configured request timeout (seconds)."""
    return {"host": settings.serve.host, "port": settings.http_port,
            "request_timeout_s": settings.serve.request_timeout_seconds}


def join_ray(address: str, namespace: str, auth_mode: str | None = None) -> None:
    """Connect this process as a driver to a running Ray.

    A local Ray started by ``ray.init`` turns token authentication on (Ray 2.60); a
    process joining it must say so too, or it loops on ``InvalidAuthToken``. Ray reads the
    mode into its config when it is first imported, so the config is refreshed when Ray
    was imported before the mode was known (Ray's own ``_enable_token_auth`` does the same).
    """
    import os
    import sys

    if auth_mode and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = auth_mode
        if "ray._raylet" in sys.modules:
            from ray._raylet import Config  # type: ignore[attr-defined]  # a Cython module without stubs

            Config.initialize("")
    import ray

    ray.init(address=address, namespace=namespace, log_to_driver=False, configure_logging=False)


def ray_auth_mode() -> str | None:
    """The token-auth mode this process runs Ray with (set by ``ray.init`` when it starts Ray)."""
    import os

    return os.environ.get("RAY_AUTH_MODE")


@dataclass(frozen=True)
class VectorizerPlacement:
    options: dict[str, Any]
    cpu_threads: int


def vectorizer_placement(settings: Settings, resources: dict[str, float]) -> VectorizerPlacement:
    """A GPU fraction where the cluster has GPUs, otherwise a fair share of real CPUs.

    Asking for a GPU where none exists would leave the actor pending forever, so the
    choice is made here from what the cluster reports.
    """
    count = settings.watchdog.shards
    gpus = resources.get("GPU", 0.0)
    if gpus > 0:
        fraction = min(settings.vectorizer.gpu_fraction, gpus / count)
        return VectorizerPlacement({"num_gpus": round(fraction, 4), "num_cpus": 0}, 1)
    # Half the CPUs, less a tenth: the spread actors' token shares must still fit when a
    # node is lost and everything restarts on fewer CPUs.
    share = min(1.0, 0.9 * resources.get("CPU", 1.0) / (2 * count))
    return VectorizerPlacement({"num_cpus": round(share, 4)}, max(1, int(share)))


SPREAD_CPUS = 0.01
"""The token CPU share of each spread actor. Ray's ``SPREAD`` only spreads actors that ask
for some resource (zero-CPU ones pile up on one node), and soft node affinity is a mere hint
in Ray 2.x (measured: about half the actors land elsewhere). With a token share, consecutive
``SPREAD`` actors alternate over the nodes, and one whose node is gone restarts elsewhere."""


class Engine:
    """The engine's Ray-side parts, started and stopped as one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_ray = False

    @property
    def http_url(self) -> str:
        return f"http://{self.settings.serve.host}:{self.settings.http_port}"

    @property
    def webhook_url(self) -> str:
        return f"http://{self.settings.serve.host}:{self.settings.webhook_port}"

    @property
    def dashboard_url(self) -> str | None:
        """The Ray dashboard this engine started, when it started one on a known port."""
        ray_settings = self.settings.ray
        if self.started_ray and ray_settings.dashboard and ray_settings.dashboard_port:
            return f"http://{ray_settings.dashboard_host}:{ray_settings.dashboard_port}"
        return None

    # -- start -------------------------------------------------------------------------
    def start(self) -> None:
        """Bring everything up and return once ``/-/ready`` answers 200."""
        began = time.monotonic()
        self.started_ray = connect_ray(self.settings)
        log.info("ray %s in %.1f s", "started" if self.started_ray else "joined", time.monotonic() - began)
        try:
            pending = self._create_actors()
            # Serve's controller and proxy start while the actors import their models.
            self._start_serve()
            # Not needed to serve: started after Serve's proxy, which has a start deadline of its own.
            pending.update(self._create_rollups())
            pending.update({name: handle.status.remote() for name, handle in self._create_incident_actors().items()})
            log.info("serve app deployed at %.1f s", time.monotonic() - began)
            self._await_actors(pending)
            log.info("actors answering at %.1f s", time.monotonic() - began)
            self._ensure_default_tenant()
            self._wait_ready()
        except Exception:
            self.stop()
            raise

    def _actor(self, cls: type, name: str, *args: Any, **options: Any) -> Any:
        import ray

        defaults = {
            "name": name,
            "namespace": self.settings.ray.namespace,
            "lifetime": "detached",
            "get_if_exists": True,
            "num_cpus": 0,
            "max_restarts": -1,
            "max_task_retries": -1,
        }
        return ray.remote(cls).options(**{**defaults, **options}).remote(*args)

    def _create_actors(self) -> dict[str, Any]:
        """Ask Ray for every actor; returns their first calls, still in flight."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from actors.directory import (
            RATE_LIMITER,
            RCA_WORKER,
            VECTORIZER,
            WATCHDOG_SHARD,
            WEBHOOK_LISTENER,
            actor_name,
        )
        from actors.rate_limiter import RateLimiter
        from actors.rca_worker import RcaWorker
        from actors.storage_owner import StorageOwner
        from actors.vectorizer import Vectorizer
        from actors.watchdog_shard import WatchdogShard
        from actors.webhook_listener import WebhookListener
        from deployments.webhook_app import webhook_server_config

        settings = self.settings
        pending: dict[str, Any] = {}
        if settings.embedded_storage:
            owner = self._actor(
                StorageOwner, STORAGE_OWNER_NAME, settings, max_concurrency=8, max_task_retries=0
            )
            pending[STORAGE_OWNER_NAME] = owner.migrate.remote()
        else:
            StoreGateway.for_settings(settings).sync.migrate()

        placement = vectorizer_placement(settings, ray.cluster_resources())
        spread = {"scheduling_strategy": "SPREAD", "num_cpus": SPREAD_CPUS}
        actors: dict[str, Any] = {}
        # One role after another: SPREAD alternates over the nodes per request, so each
        # role's actors take turns (interleaved roles would put every shard on one node).
        for index in range(settings.watchdog.shards):
            actors[actor_name(WATCHDOG_SHARD, index)] = self._actor(
                WatchdogShard, actor_name(WATCHDOG_SHARD, index), settings, index,
                max_pending_calls=settings.ingest.shard_queue, max_concurrency=4, **spread,
            )
        for index in range(settings.watchdog.shards):
            actors[actor_name(VECTORIZER, index)] = self._actor(
                Vectorizer, actor_name(VECTORIZER, index), settings, index, placement.cpu_threads,
                max_concurrency=16, **{**spread, **placement.options},
            )
        for index in range(settings.rca.workers):
            actors[actor_name(RCA_WORKER, index)] = self._actor(
                RcaWorker, actor_name(RCA_WORKER, index), settings, index, max_concurrency=4, **spread,
            )
        actors[actor_name(RATE_LIMITER, 0)] = self._actor(
            RateLimiter, actor_name(RATE_LIMITER, 0), settings, max_concurrency=16, max_task_retries=0
        )
        # The second port must open on this node, the one operators point Alertmanager at.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        actors[actor_name(WEBHOOK_LISTENER, 0)] = self._actor(
            WebhookListener, actor_name(WEBHOOK_LISTENER, 0), settings, webhook_server_config,
            scheduling_strategy=here
        )

        pending.update({name: handle.status.remote() for name, handle in actors.items()})
        return pending

    def _create_incident_actors(self) -> dict[str, Any]:
        """Grouping and notifications (#18): the incident manager and the notifier, one each.

        Started after Serve's proxy (which has a start deadline of its own): they are not needed
        to serve, and their processes' start would compete with it for CPU."""
        from actors.directory import INCIDENT_MANAGER, NOTIFIER, actor_name
        from actors.incident_manager import IncidentManager
        from actors.notifier import NotifierActor

        if not self.settings.incident_grouping.enabled:
            return {}
        spread = {"scheduling_strategy": "SPREAD", "num_cpus": SPREAD_CPUS}
        return {
            actor_name(INCIDENT_MANAGER, 0): self._actor(IncidentManager, actor_name(INCIDENT_MANAGER, 0),
                                                         self.settings, max_concurrency=4, **spread),
            actor_name(NOTIFIER, 0): self._actor(NotifierActor, actor_name(NOTIFIER, 0), self.settings,
                                                 max_concurrency=2, **spread),
        }

    def _create_rollups(self) -> dict[str, Any]:
        """The telemetry rollup actors; returns their first calls, still in flight."""
        from actors.directory import TELEMETRY_ROLLUP, actor_name
        from actors.telemetry_rollup import TelemetryRollupWorker

        spread = {"scheduling_strategy": "SPREAD", "num_cpus": SPREAD_CPUS}
        pending = {}
        for index in range(self.settings.otlp.rollup_workers):
            name = actor_name(TELEMETRY_ROLLUP, index)
            handle = self._actor(TelemetryRollupWorker, name, self.settings, index, max_concurrency=2, **spread)
            pending[name] = handle.status.remote()
        return pending

    def _ensure_default_tenant(self) -> None:
        """Create ``alerts.default_tenant`` when configured and missing (the reference's keyless alerts land there)."""
        from datetime import UTC, datetime

        from aiops.schemas.tenants import TenantCreate
        from aiops.tenants import new_tenant

        alerts = self.settings.alerts
        if not (alerts.default_tenant and alerts.create_default_tenant):
            return
        store = StoreGateway.for_settings(self.settings).sync
        if store.get_tenant(alerts.default_tenant) is None:
            body = TenantCreate(tenant_id=alerts.default_tenant, name="Default (alerts without a tenant)", plan=None,
                                contact_email=None)
            if store.create_tenant(new_tenant(body, self.settings, datetime.now(UTC))):
                log.info("created the default tenant %r (alerts.default_tenant)", alerts.default_tenant)

    def _await_actors(self, pending: dict[str, Any]) -> None:
        import ray

        timeout = self.settings.serve.ready_timeout_seconds
        try:
            answers = dict(zip(pending, ray.get(list(pending.values()), timeout=timeout), strict=True))
        except ray.exceptions.GetTimeoutError:
            raise EngineError(f"actors did not start within {timeout:.0f} s (is the cluster short of CPUs?)") from None
        except ray.exceptions.RayActorError as error:
            raise EngineError(f"an actor failed to start: {error}") from None
        if answers.get(STORAGE_OWNER_NAME):
            log.info("schema migrations applied: %s", answers[STORAGE_OWNER_NAME])

    def _start_serve(self) -> None:
        from ray import serve

        from deployments.app import APP_NAME, build_app

        serve.start(http_options=serve_http_options(self.settings))
        serve.run(build_app(self.settings), name=APP_NAME, route_prefix="/")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.serve.ready_timeout_seconds
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                response = httpx.get(self.http_url + "/-/ready", timeout=5)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as error:
                last = str(error)
            time.sleep(0.2)
        raise EngineError(f"{self.http_url}/-/ready did not answer 200: {last}")

    # -- stop --------------------------------------------------------------------------
    def stop(self) -> None:
        """Delete the Serve app, stop every actor (storage last), leave Ray if started here."""
        import ray
        from ray import serve

        from actors.directory import (
            RCA_WORKER,
            TELEMETRY_ROLLUP,
            VECTORIZER,
            WATCHDOG_SHARD,
            WEBHOOK_LISTENER,
            actor_name,
            engine_actor_names,
        )
        from deployments.app import APP_NAME

        if not ray.is_initialized():
            return
        try:
            serve.delete(APP_NAME)
        except Exception as error:  # not deployed, or Serve not running
            log.debug("serve.delete: %s", error)
        namespace = self.settings.ray.namespace
        for name in engine_actor_names(self.settings):
            try:
                handle = ray.get_actor(name, namespace=namespace)
            except ValueError:
                continue
            try:
                if name == actor_name(WEBHOOK_LISTENER, 0) or name.startswith((RCA_WORKER, VECTORIZER,
                                                                                TELEMETRY_ROLLUP, "incident-manager",
                                                                                "notifier")):
                    ray.get(handle.stop.remote(), timeout=10)
                elif name.startswith(WATCHDOG_SHARD):
                    ray.get(handle.stop.remote(), timeout=60)  # a last checkpoint
                elif name == STORAGE_OWNER_NAME:
                    ray.get(handle.close.remote(), timeout=30)  # releases chDB's lock cleanly
            except Exception as error:
                log.warning("%s did not stop cleanly: %s", name, error)
            ray.kill(handle, no_restart=True)
        if self.started_ray:
            try:
                serve.shutdown()
            except Exception as error:
                log.debug("serve.shutdown: %s", error)
            ray.shutdown()
