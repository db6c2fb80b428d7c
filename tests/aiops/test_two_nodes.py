"""The engine on a simulated two-node Ray cluster: its actors spread over both nodes, and it works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.engine


def test_shards_spread_over_two_nodes(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tests.two_node_engine", str(tmp_path / "data")], cwd=REPO,
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["nodes"]) == 2
    shards = {node for name, node in report["placed"].items() if name.startswith("watchdog-shard")}
    assert shards == set(report["nodes"]), report  # both nodes hold shards
    assert set(report["placed"].values()) <= set(report["nodes"])
    assert report["stored"] == 10
