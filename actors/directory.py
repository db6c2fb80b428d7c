"""Actor names, lookups and routing: one place that knows what runs, what it is called, and
which actor of a role owns a key (a tenant's watchdog shard and vectorizer, an anomaly's RCA
worker), by rendezvous hashing over the role's pool (:func:`aiops.sharding.shard_for`)."""

from __future__ import annotations

from typing import Any

import ray

from aiops.settings import Settings
from aiops.sharding import shard_for
from aiops.storage.gateway import STORAGE_OWNER_NAME

WATCHDOG_SHARD = "watchdog-shard"
VECTORIZER = "vectorizer"
RCA_WORKER = "rca-worker"
WEBHOOK_LISTENER = "webhook-listener"
RATE_LIMITER = "rate-limiter"
TELEMETRY_ROLLUP = "telemetry-rollup"
INCIDENT_MANAGER = "incident-manager"
NOTIFIER = "notifier"


def actor_name(role: str, index: int) -> str:
    return f"{role}-{index}"


def engine_actor_names(settings: Settings) -> list[str]:
    """Every named actor the engine runs, in the order they should be stopped."""
    names = [actor_name(WEBHOOK_LISTENER, 0), actor_name(RATE_LIMITER, 0)]
    if settings.incident_grouping.enabled:
        names += [actor_name(NOTIFIER, 0), actor_name(INCIDENT_MANAGER, 0)]
    names += [actor_name(RCA_WORKER, i) for i in range(settings.rca.workers)]
    names += [actor_name(TELEMETRY_ROLLUP, i) for i in range(settings.otlp.rollup_workers)]
    names += [actor_name(VECTORIZER, i) for i in range(settings.watchdog.shards)]
    names += [actor_name(WATCHDOG_SHARD, i) for i in range(settings.watchdog.shards)]
    if settings.embedded_storage:
        names.append(STORAGE_OWNER_NAME)
    return names


class ActorDirectory:
    """Resolves the engine's named actors, caching handles and forgetting dead ones."""

    def __init__(self, settings: Settings) -> None:
        self._namespace = settings.ray.namespace
        self._counts = {
            WATCHDOG_SHARD: settings.watchdog.shards,
            VECTORIZER: settings.watchdog.shards,
            RCA_WORKER: settings.rca.workers,
            TELEMETRY_ROLLUP: settings.otlp.rollup_workers,
        }
        self._incidents = settings.incident_grouping.enabled
        self._handles: dict[str, Any] = {}

    @property
    def runs_incidents(self) -> bool:
        """Whether the engine runs the incident manager and notifier (``incident_grouping.enabled``)."""
        return self._incidents

    def count(self, role: str) -> int:
        return self._counts[role]

    def get(self, name: str) -> Any | None:
        """The handle of a named actor, or None when it does not exist (yet or any more)."""
        handle = self._handles.get(name)
        if handle is None:
            try:
                handle = ray.get_actor(name, namespace=self._namespace)
            except ValueError:
                return None
            self._handles[name] = handle
        return handle

    def forget(self, name: str) -> None:
        self._handles.pop(name, None)

    def owner_name(self, role: str, key: str) -> str:
        """The name of the ``role`` actor that owns ``key`` (a tenant id for watchdog shards,
        vectorizers and rollup workers; an anomaly id, or a tenant id for its graphs, for RCA workers)."""
        return actor_name(role, shard_for(key, self._counts[role]))

    def owner(self, role: str, key: str) -> tuple[str, Any | None]:
        """The owner's name and handle (None when it is not running)."""
        name = self.owner_name(role, key)
        return name, self.get(name)

    def fail_over(self, role: str, key: str) -> list[str]:
        """The role's actors in the order to ask them for ``key``: its owner first, then the next ones."""
        count = self._counts[role]
        first = shard_for(key, count)
        return [actor_name(role, (first + offset) % count) for offset in range(count)]

    def role(self, role: str) -> list[tuple[str, Any | None]]:
        names = [actor_name(role, i) for i in range(self._counts[role])]
        return [(name, self.get(name)) for name in names]


def wake_rca_workers(actors: ActorDirectory, anomaly_ids: list[str]) -> None:
    """Tell the workers owning these requests to look at the queue now instead of at their next poll.

    Fire and forget: the requests are already durable, so a lost wake-up only costs a poll interval.
    """
    for name in {actors.owner_name(RCA_WORKER, anomaly_id) for anomaly_id in anomaly_ids}:
        worker = actors.get(name)
        if worker is not None:
            try:
                worker.wake.remote()
            except Exception:  # a dead handle: the next poll finds the request anyway
                actors.forget(name)


def wake_incident_manager(actors: ActorDirectory) -> None:
    """Tell the incident manager that signals were stored (or an RCA finished): pass now, not at its next poll.

    Fire and forget, and a no-op when grouping is off: the signals are already durable, so a
    lost wake-up costs at most ``incident_grouping.idle_poll_seconds``.
    """
    if actors.runs_incidents:
        _wake(actors, actor_name(INCIDENT_MANAGER, 0))


def wake_notifier(actors: ActorDirectory) -> None:
    """Tell the notifier that outbox rows were enqueued: deliver now, not at its next poll.

    Fire and forget: the rows are durable, so a lost wake-up costs at most ``incident_grouping.idle_poll_seconds``."""
    _wake(actors, actor_name(NOTIFIER, 0))


def _wake(actors: ActorDirectory, name: str) -> None:
    actor = actors.get(name)
    if actor is not None:
        try:
            actor.wake.remote()
        except Exception:  # a dead handle: its restarted self reads its work from storage anyway
            actors.forget(name)


def next_wait(wait: float, busy: bool, poll: float, idle_poll: float) -> float:
    """Seconds until a polling actor's next pass: ``poll`` after a busy pass (or a wake-up), else
    the last wait doubled, at most ``idle_poll`` (never below ``poll``). Wake-ups make the idle
    back-off cheap: it only bounds a lost one."""
    if busy:
        return poll
    return min(max(poll, idle_poll), max(wait, poll) * 2)
