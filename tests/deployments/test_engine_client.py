"""Routers reach actors only through the engine client (``context.engine``).

No router calls ``.remote(...)``, holds the actor directory (``context.actors``) or imports
ray: the calls to actors, their routing and their failures live in
``deployments/engine_client.py``. The check is shown to catch a router that does. On the
running engine, the client's answers when the owning actor is not running: 503 before anything
is recorded, or a fall-over to a worker that answers.
"""

from __future__ import annotations

import ast
import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from actors.directory import ActorDirectory
from aiops.errors import Unavailable
from aiops.sharding import shard_for
from aiops.storage.gateway import StoreGateway
from deployments.context import ApiContext
from deployments.engine_client import EngineClient
from tests.conftest import RunningEngine

ROUTERS = Path(__file__).resolve().parents[2] / "deployments" / "routers"


def actor_calls(source: str) -> list[str]:
    """``line: what`` for each direct actor call, directory access or ray import in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("remote", "actors"):
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "ray" for a in node.names):
            found.append(f"{node.lineno}: import ray")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ray":
            found.append(f"{node.lineno}: from {node.module}")
    return found


def test_no_router_calls_an_actor_itself() -> None:
    routers = sorted(ROUTERS.glob("*.py"))
    assert len(routers) > 10
    offenders = {path.name: calls for path in routers if (calls := actor_calls(path.read_text()))}
    assert offenders == {}


def test_the_check_catches_a_router_calling_an_actor() -> None:
    leaky = (
        "import ray\n"
        "async def swap(context, tenant):\n"
        "    _, shard = context.actors.owner('watchdog-shard', tenant)\n"
        "    return await shard.swap_model.remote(tenant, 'zscore', {})\n"
    )
    assert actor_calls(leaky) == ["1: import ray", "3: .actors", "4: .remote"]


def test_every_replica_context_carries_the_engine_client() -> None:
    assert ApiContext.__dataclass_fields__["engine"].type in ("EngineClient", EngineClient)


@pytest.mark.engine
def test_an_owner_not_running_is_503_before_anything_is_recorded(engine: RunningEngine) -> None:
    """A directory sized for more actors than run: the tenant's owners (shard ``n``, vectorizer
    ``n``, RCA worker ``n``) do not exist, as while they restart."""
    running_shards, running_workers, pretend = engine.settings.watchdog.shards, engine.settings.rca.workers, 16
    settings = engine.settings.model_copy(update={
        "watchdog": engine.settings.watchdog.model_copy(update={"shards": pretend}),
        "rca": engine.settings.rca.model_copy(update={"workers": pretend})})
    tenant = next(t for t in (f"orphan-{i}" for i in range(1000))
                  if shard_for(t, pretend) >= max(running_shards, running_workers))
    store = StoreGateway.for_settings(engine.settings)
    client = EngineClient(settings, store, ActorDirectory(settings))

    async def attempts() -> None:
        with pytest.raises(Unavailable, match=f"watchdog-shard-{shard_for(tenant, pretend)} is not running"):
            await client.swap_detector(tenant, "ewma", {}, "alice", datetime.now(UTC))
        with pytest.raises(Unavailable, match="vectorizer is not running"):
            await client.swap_embedder(tenant, "hashed_ngrams", {}, "alice", datetime.now(UTC))
        assert await store.aio.model_choices(tenant) == {}  # neither swap was recorded
        assert await client.send_feedback(tenant, 1, "false_positive") is False
        # The owning RCA worker is missing: the next ones are asked until one answers (this one
        # knows no graph of the tenant, so no such service).
        assert await client.correlations(tenant, "checkout", 2) is None

    asyncio.run(attempts())
