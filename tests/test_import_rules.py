"""The layers hold: the import-linter contracts in pyproject.toml are kept, and a broken one fails.

The contracts (``[tool.importlinter]``): ``models/`` imports nothing from the engine; storage
imports no analysis code and no torch; the API's app imports no torch; ``deployments/`` and
``actors/`` never import the code that starts the engine; HTTP routers import no ray and no
actor module (they go through ``deployments/engine_client.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aiops", "actors", "deployments", "models")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages under ``tree`` with the repository's contracts."""
    selected = [argument for contract in contracts for argument in ("--contract", contract)]
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml"), *selected], cwd=tree,
                          env=environment, capture_output=True, text=True, timeout=300)


def test_the_repository_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_module_breaking_a_rule_fails_the_check(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    # A model reaching into the engine, and a storage module importing the RCA analysis (and so torch).
    (tmp_path / "models" / "leak.py").write_text("from aiops.settings import Settings\n")
    (tmp_path / "aiops" / "storage" / "leak.py").write_text("from aiops.rca.graph import learn_edges\n")
    # A router holding an actor handle itself instead of asking the engine client.
    (tmp_path / "deployments" / "routers" / "leak.py").write_text("from actors.directory import ActorDirectory\n")

    result = lint_imports(tmp_path, "models-bottom", "storage-no-analysis", "routers-through-engine-client")

    assert result.returncode != 0
    assert "3 broken" in result.stdout
    assert "deployments.routers.leak -> actors.directory" in result.stdout
    assert "models.leak -> aiops.settings" in result.stdout
    assert "aiops.storage.leak -> aiops.rca.graph" in result.stdout


def test_processes_that_only_hold_handles_import_no_torch() -> None:
    """The driver, Serve replicas and the webhook listener import the actor modules (Ray loads an
    actor's class where a handle to it is used), so those modules import no torch at their top;
    torch comes with the analysis and the embedders, in the processes that run them."""
    modules = ("aiops.engine", "aiops.cli.main", "deployments.app", "deployments.api", "actors.rca_worker",
               "actors.vectorizer", "actors.watchdog_shard", "actors.storage_owner", "actors.webhook_listener",
               "actors.rate_limiter", "actors.telemetry_rollup")
    code = f"import sys\nfor name in {modules!r}: __import__(name)\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
