"""The generated JWT secret: made once, private, shared by engine and CLI; refused in production."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from aiops.auth.secrets import resolve_jwt_secret, secret_path
from aiops.settings import SettingsError, load_settings


def test_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    first = resolve_jwt_secret(settings)
    assert first and len(first) >= 32
    assert stat.S_IMODE(secret_path(settings).stat().st_mode) == 0o600
    assert resolve_jwt_secret(settings) == first


def test_configured_secret_wins(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, jwt_secret="configured-" + "z" * 30)
    assert resolve_jwt_secret(settings) == "configured-" + "z" * 30
    assert not secret_path(settings).exists()


def test_production_refuses_generated_and_short_secrets(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="refuses a generated secret"):
        resolve_jwt_secret(load_settings(data_dir=tmp_path, mode="production"))
    with pytest.raises(SettingsError, match="at least 32"):
        resolve_jwt_secret(load_settings(data_dir=tmp_path, mode="production", jwt_secret="short"))
    strong = "p" * 40
    assert resolve_jwt_secret(load_settings(data_dir=tmp_path, mode="production", jwt_secret=strong)) == strong
