"""Run the engine on a simulated two-node Ray cluster and report where its actors landed.

A script (``python -m tests.two_node_engine DATA_DIR``), not a test module: Ray allows one
cluster connection per process, and the test session already holds one. Prints one JSON
line: the node of each shard and worker, and whether a batch ingested over HTTP came back.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx
import ray
from ray.cluster_utils import Cluster

from actors.directory import RCA_WORKER, VECTORIZER, WATCHDOG_SHARD, actor_name
from aiops.auth.roles import Role
from aiops.engine import Engine
from tests.conftest import small_engine_settings, wait_for


def node_of(name: str, namespace: str) -> str:
    handle = ray.get_actor(name, namespace=namespace)
    return ray.get(handle.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id()), timeout=60)


def main(data_dir: Path, report_path: Path) -> None:
    """Run the scenario; write its report as JSON to ``report_path`` (stdout also carries Ray's
    own warnings, e.g. the raylet's worker-start notice, so it is no place for the report)."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    settings = small_engine_settings(data_dir, ray_address=cluster.address, watchdog={"shards": 4},
                                     rca={"workers": 2})
    # As on a real cluster, both nodes are registered and schedulable before the engine starts
    # (the engine reuses this connection).
    ray.init(address=cluster.address, namespace=settings.ray.namespace, log_to_driver=False)
    wait_for(lambda: ray.cluster_resources().get("CPU", 0) >= 4 and len([n for n in ray.nodes() if n["Alive"]]) >= 2,
             timeout=60, what="the second node to become schedulable")
    engine = Engine(settings)
    try:
        engine.start()
        namespace = settings.ray.namespace
        placed = {actor_name(role, i): node_of(actor_name(role, i), namespace)
                  for role, count in ((WATCHDOG_SHARD, 4), (VECTORIZER, 4), (RCA_WORKER, 2)) for i in range(count)}
        from aiops.auth.tokens import issue_token

        def auth(tenant: str, role: Role) -> dict:
            token = issue_token(settings.jwt_secret.get_secret_value(), tenant_id=tenant, user_id="t", role=role,
                                ttl_seconds=600)
            return {"Authorization": f"Bearer {token}"}

        with httpx.Client(base_url=engine.http_url, timeout=60) as http:
            http.post("/api/v1/tenants", json={"tenant_id": "spread", "name": "Spread", "plan": "pro"},
                      headers=auth("root", Role.SUPER_ADMIN)).raise_for_status()
            now = time.time()

            def send(first: int) -> int:
                points = [[now - 600 + first + k, float(k)] for k in range(10)]
                answer = http.post("/api/v1/ingest/metrics", headers=auth("spread", Role.OPERATOR), json={"series": [
                    {"service_id": "api", "metric_name": "cpu", "points": points}]})
                return answer.status_code

            def stored() -> int:
                back = http.get("/api/v1/series", params={"service_id": "api", "since": now - 700},
                                headers=auth("spread", Role.VIEWER))
                return sum(len(s["points"]) for s in back.json()["series"])

            first: list[int] = []
            # 503 means "not taken, retry" (nothing stored), as when a just-started shard is still busy.
            wait_for(lambda: first.append(send(0)) or first[-1] != 503, timeout=60, interval=1.0,
                     what="the first batch to be answered")
            assert first[-1] == 200, first
            before = stored()
            # The worker node goes away: its actors restart on the head, nothing stored is lost.
            lost = sorted(name for name, node in placed.items() if node == worker.node_id)
            cluster.remove_node(worker)
            statuses: list[int] = []

            def moved_and_accepted() -> bool:
                statuses.append(send(10))  # a client retrying until its batch is accepted
                return statuses[-1] == 200 and all(node_of(name, namespace) != worker.node_id for name in lost)

            wait_for(moved_and_accepted, timeout=120, interval=1.0, what="the removed node's actors to move")
            moved = {name: node_of(name, namespace) for name in lost}
            after = stored()
        report_path.write_text(json.dumps({"nodes": sorted({*placed.values()}), "placed": placed, "stored": before,
                                           "worker": worker.node_id, "moved": moved, "after_removal": after,
                                           "statuses": sorted(set(statuses))}))
    finally:
        engine.stop()
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
