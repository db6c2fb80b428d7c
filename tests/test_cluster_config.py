"""``cluster.yaml`` passes Ray's own cluster-launcher validation and starts the engine."""

from __future__ import annotations

import copy

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.conftest import REPO


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((REPO / "cluster.yaml").read_text())


def test_ray_validates_it(config: dict) -> None:
    validate_config(prepare_config(copy.deepcopy(config)))


def test_it_has_cpu_and_gpu_workers_and_starts_the_engine(config: dict) -> None:
    nodes = config["available_node_types"]
    assert config["head_node_type"] == "head"
    assert nodes["gpu_worker"]["resources"].get("GPU", 0) >= 1
    assert nodes["cpu_worker"]["max_workers"] >= nodes["cpu_worker"]["min_workers"] >= 1
    assert any("make install" in command for command in config["setup_commands"])
    start = " ".join(config["head_start_ray_commands"])
    assert "ray start --head" in start and "AIOPS_RAY_ADDRESS=auto" in start and "aiops up --detach" in start
    assert any("ray start --address" in command for command in config["worker_start_ray_commands"])


def test_a_broken_copy_is_refused(config: dict) -> None:
    broken = copy.deepcopy(config)
    broken["available_node_types"]["cpu_worker"]["max_workers"] = "many"
    with pytest.raises(Exception, match="many"):
        validate_config(prepare_config(broken))
