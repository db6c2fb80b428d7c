"""Models from outside the repository: an installed package's entry points register its models.

The example package (``examples/model-plugin``) is installed with pip into a scratch folder
put on ``sys.path``, as a data scientist's package would be installed next to the engine;
its detector then passes the same conformance checks as the built-in ones.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from models import registry
from tests.models import test_conformance as conformance

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "model-plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory):
    target, source = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("source") / "model-plugin"
    shutil.copytree(EXAMPLE, source)  # pip builds in the source folder: keep the repository clean
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=300)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    saved, saved_from_packages = dict(registry._ENTRIES), set(registry._FROM_PACKAGES)
    try:
        registry.discover(refresh=True)
        yield target
    finally:
        sys.path.remove(str(target))
        registry._ENTRIES.clear()
        registry._ENTRIES.update(saved)
        registry._FROM_PACKAGES.clear()
        registry._FROM_PACKAGES.update(saved_from_packages)


def test_an_installed_package_registers_its_detector(installed: Path) -> None:
    entry = registry.entry("detector", "example_zscore")
    assert entry.target == "aiops_example_models.zscore:RunningZScoreDetector"
    assert "aiops-example-models" in entry.summary
    assert "example_zscore" in [e.name for e in registry.entries("detector")]
    detector = registry.build("detector", "example_zscore", {"warmup": 10})
    assert type(detector).__module__ == "aiops_example_models.zscore"


def test_the_installed_detector_passes_the_conformance_suite(installed: Path) -> None:
    name = "example_zscore"
    conformance.test_scores_are_bounded_causal_and_repeatable(name)
    conformance.test_state_pickles_grows_and_series_are_independent(name)
    conformance.test_many_steps_at_once_equal_the_steps_one_by_one(name)
    conformance.test_config_rejects_unknown_keys(name)
    conformance.test_bad_numbers_never_poison_state(name)
    conformance.test_docstring_examples_run("aiops_example_models.zscore")


def test_an_installed_model_cannot_take_a_built_in_name(installed: Path, tmp_path: Path) -> None:
    """A package declaring ``ewma`` is ignored with a warning: the built-in keeps its name."""
    dist = tmp_path / "shadow-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shadow\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[aiops.detectors]\newma = aiops_example_models.zscore:RunningZScoreDetector\n")
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        with pytest.warns(UserWarning, match="ewma"):
            registry.discover(refresh=True)
    finally:
        sys.path.remove(str(tmp_path))
    assert registry.entry("detector", "ewma").target == "models.detectors.ewma:EwmaDetector"
