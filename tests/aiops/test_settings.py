"""Settings: YAML, then AIOPS_* variables, then explicit values; bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.settings import Settings, SettingsError, config_path, load_settings


def test_repository_yaml_loads_with_documented_defaults() -> None:
    settings = load_settings()
    assert settings.http_port == 8080
    assert settings.webhook_port == 9093
    assert settings.ray.namespace == "aiops"
    assert settings.data_dir == Path("./data").resolve()
    assert settings.dsn == f"chdb://{Path('./data').resolve() / 'clickhouse'}"
    assert settings.embedded_storage


def test_every_yaml_key_is_a_setting() -> None:
    # The shipped file documents every knob; loading it with extra="forbid" proves none is stale.
    import yaml

    data = yaml.safe_load(config_path().read_text())
    fields = set(Settings.model_fields)
    assert set(data) <= fields
    for section, values in data.items():
        annotation = Settings.model_fields[section].annotation
        if isinstance(values, dict) and hasattr(annotation, "model_fields"):
            assert set(values) <= set(annotation.model_fields), section
    assert set(data["plans"]) == set(load_settings().plans)


def test_environment_overrides_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIOPS_HTTP_PORT", "18080")
    monkeypatch.setenv("AIOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AIOPS_WATCHDOG__SHARDS", "5")
    monkeypatch.setenv("AIOPS_CLICKHOUSE_DSN", "http://ch.example:8123/aiops")
    settings = load_settings()
    assert settings.http_port == 18080
    assert settings.data_dir == tmp_path
    assert settings.watchdog.shards == 5
    assert settings.dsn == "http://ch.example:8123/aiops"
    assert not settings.embedded_storage


def test_unknown_yaml_key_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("watchdog:\n  shardz: 3\n")
    monkeypatch.setenv("AIOPS_CONFIG", str(config))
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "watchdog.shardz (AIOPS_WATCHDOG__SHARDZ): unknown setting" in str(raised.value)


def test_bad_value_names_key_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_WATCHDOG__SHARDS", "0")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "watchdog.shards (AIOPS_WATCHDOG__SHARDS)" in str(raised.value)
    assert "greater than or equal to 1" in str(raised.value)


def test_bad_dsn_scheme_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_CLICKHOUSE_DSN", "postgres://db/aiops")
    with pytest.raises(SettingsError, match=r"clickhouse_dsn \(AIOPS_CLICKHOUSE_DSN\)"):
        load_settings()


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIOPS_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(SettingsError, match="not a file"):
        load_settings()


def test_malformed_yaml_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("watchdog: [unclosed\n")
    monkeypatch.setenv("AIOPS_CONFIG", str(config))
    with pytest.raises(SettingsError, match="cannot read settings"):
        load_settings()


def test_auto_counts_follow_the_cpus_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from aiops.settings import CPUS_PER_ACTOR

    for cpus, expected in ((1, 1), (2, 1), (CPUS_PER_ACTOR * 2, 2), (CPUS_PER_ACTOR * 4 + 1, 4)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, cpus=cpus: set(range(cpus)))
        settings = load_settings(watchdog={"shards": "auto"}, rca={"workers": "Auto"})
        assert (settings.watchdog.shards, settings.rca.workers) == (expected, expected)
    monkeypatch.setenv("AIOPS_RCA__WORKERS", "3")  # a number is taken as given
    assert load_settings().rca.workers == 3


def test_a_count_that_is_neither_a_number_nor_auto_names_both_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_WATCHDOG__SHARDS", "two")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "watchdog.shards (AIOPS_WATCHDOG__SHARDS)" in str(refused.value)
    assert 'a whole number or "auto"' in str(refused.value)


def test_an_empty_default_tenant_means_none_as_engine_yaml_says(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().alerts.default_tenant == "default"
    assert load_settings(alerts={"default_tenant": ""}).alerts.default_tenant is None
    monkeypatch.setenv("AIOPS_ALERTS__DEFAULT_TENANT", "")
    assert load_settings().alerts.default_tenant is None
