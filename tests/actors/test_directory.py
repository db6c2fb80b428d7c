"""Routing in one place: which actor of a role owns a key, and the order to fail over in."""

from __future__ import annotations

from actors.directory import RCA_WORKER, VECTORIZER, WATCHDOG_SHARD, ActorDirectory
from aiops.settings import load_settings
from aiops.sharding import shard_for


def test_every_role_routes_a_key_to_the_actor_its_hash_names() -> None:
    settings = load_settings(watchdog={"shards": 3}, rca={"workers": 4})
    actors = ActorDirectory(settings)
    for key in ("acme", "beta", "anomaly-17"):
        assert actors.owner_name(WATCHDOG_SHARD, key) == f"watchdog-shard-{shard_for(key, 3)}"
        assert actors.owner_name(VECTORIZER, key) == f"vectorizer-{shard_for(key, 3)}"  # beside its shard
        assert actors.owner_name(RCA_WORKER, key) == f"rca-worker-{shard_for(key, 4)}"


def test_fail_over_asks_the_owner_first_then_every_other_actor_once() -> None:
    actors = ActorDirectory(load_settings(rca={"workers": 4}))
    order = actors.fail_over(RCA_WORKER, "anomaly-17")
    assert order[0] == actors.owner_name(RCA_WORKER, "anomaly-17")
    assert sorted(order) == [f"rca-worker-{i}" for i in range(4)]
