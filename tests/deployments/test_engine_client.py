"""Routers reach actors only through the engine client (``context.engine``).

No router calls ``.remote(...)``, holds the actor directory (``context.actors``) or imports
ray: the calls to actors, their routing and their failures live in
``deployments/engine_client.py``. The check is shown to catch a router that does.
"""

from __future__ import annotations

import ast
from pathlib import Path

from deployments.context import ApiContext
from deployments.engine_client import EngineClient

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
