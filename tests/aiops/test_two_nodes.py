"""The engine on a simulated two-node Ray cluster: its actors spread over both nodes, and it works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.engine


@pytest.mark.reliability(
    fault="a two-node Ray cluster, then one node removed",
    promise="actors spread over both nodes; when a node goes, its actors move and nothing stored is lost",
)
def test_shards_spread_and_move_when_a_node_goes(tmp_path: Path, record_property) -> None:
    done = subprocess.run([sys.executable, "-m", "tests.two_node_engine", str(tmp_path / "data")], cwd=REPO,
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    # The report is the last JSON line: Ray's driver may print raylet warnings after it.
    report = json.loads(next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{")))
    assert len(report["nodes"]) == 2 and report["worker"] in report["nodes"]
    shards = {node for name, node in report["placed"].items() if name.startswith("watchdog-shard")}
    assert shards == set(report["nodes"]), report  # both nodes hold shards
    assert set(report["placed"].values()) <= set(report["nodes"])
    assert report["stored"] == 10
    # After the worker node is removed, its actors run elsewhere and nothing is lost.
    assert report["moved"] and all(node != report["worker"] for node in report["moved"].values()), report
    assert report["after_removal"] == 20, report
    # While actors move: 503 (retry), or 408 when a request outlived serve.request_timeout_seconds; never a 500.
    assert set(report["statuses"]) <= {200, 408, 503}, report
    record_property("measured", f"{len(shards)} nodes held shards; {len(report['moved'])} actors moved off the "
                                f"removed node; {report['after_removal']} of 20 points stored; answers "
                                f"{report['statuses']}")
