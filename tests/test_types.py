"""The engine type-checks: mypy over what ``[tool.mypy]`` names in pyproject.toml (``aiops``,
``models``, ``deployments``, ``actors``, with pydantic's plugin).

That is the storage layer (its repositories, the Store composed of them, the gateway whose
sync view is typed as the Store and whose async view is ``AsyncStore``) and every caller of
it; a typo in a storage call fails here, not at run time. A broken call is shown to fail
too, so the check cannot pass by checking nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mypy(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", *arguments], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_storage_and_its_callers_type_check() -> None:
    result = mypy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def test_a_misspelt_storage_call_fails_the_check(tmp_path: Path) -> None:
    caller = tmp_path / "caller.py"
    caller.write_text(
        "from aiops.settings import load_settings\n"
        "from aiops.storage.gateway import StoreGateway\n"
        "StoreGateway.for_settings(load_settings()).sync.list_all_tenant()\n"
    )
    result = mypy(str(caller))
    assert result.returncode == 1
    assert 'has no attribute "list_all_tenant"' in result.stdout
