"""Exposure (kind 5): the Ray dashboard stays on loopback, /metrics names no tenant, every label is bounded."""

from __future__ import annotations

import re
import time

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from aiops.engine import local_ray_options
from aiops.settings import MetricsSettings, load_settings
from deployments.observability import bounded_by_tenant
from tests.conftest import REPO, RunningEngine
from tests.properties import ENGINE_PROPERTY, PROPERTY

LABEL = re.compile(r'(\w+)="([^"]*)"')


@pytest.mark.reliability(
    fault="where the Ray dashboard (and its code-running Jobs API) listens: aiops up and cluster.yaml",
    promise="loopback unless an operator names another interface (then a warning); cluster.yaml never opens it",
    kind="5 exposure",
)
def test_the_dashboard_stays_on_loopback(tmp_path, caplog, record_property) -> None:
    settings = load_settings(data_dir=tmp_path, serve={"host": "0.0.0.0"})  # the API may face the network ...
    assert local_ray_options(settings)["dashboard_host"] == "127.0.0.1"  # ... the dashboard does not
    opened = load_settings(data_dir=tmp_path, ray={"dashboard_host": "0.0.0.0"})
    with caplog.at_level("WARNING", logger="aiops.engine"):
        assert local_ray_options(opened)["dashboard_host"] == "0.0.0.0"
    assert "Jobs API" in caplog.text
    start = " ".join(yaml.safe_load((REPO / "cluster.yaml").read_text())["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in start and "0.0.0.0 " not in start.split("aiops up")[0].replace(
        "AIOPS_SERVE__HOST=0.0.0.0", "")
    record_property("measured", "aiops up: 127.0.0.1 whatever serve.host; 0.0.0.0 only when set, with a warning; "
                                "cluster.yaml: --dashboard-host=127.0.0.1")


def test_per_tenant_figures_are_bounded_when_asked_for() -> None:
    @PROPERTY
    @given(figures=st.dictionaries(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), st.integers(0, 10**6),
                                   max_size=300),
           limit=st.integers(1, 50), per_tenant=st.booleans())
    def check(figures: dict, limit: int, per_tenant: bool) -> None:
        shown = bounded_by_tenant(figures, MetricsSettings(per_tenant=per_tenant, max_tenants=limit))
        assert len(shown) <= (limit + 1 if per_tenant else 1)
        assert sum(shown.values()) == sum(figures.values())
        if not per_tenant:
            assert set(shown) <= {"_all"}

    check()


@pytest.mark.engine
@pytest.mark.reliability(
    fault="/metrics scraped by anyone, after traffic of several tenants and requests with made-up HTTP methods "
          "and paths (Hypothesis)",
    promise="no tenant id in it; every label of the engine's own metrics from a bounded set",
    kind="5 exposure",
)
def test_metrics_name_no_tenant_and_labels_stay_bounded(engine: RunningEngine, record_property) -> None:
    now = time.time()
    for tenant in ("acme", "globex"):
        body = {"series": [{"service_id": "exposed", "metric_name": "cpu", "points": [[now, 1.0]]}]}
        assert engine.http.post("/api/v1/ingest/metrics", json=body, headers=engine.auth(tenant=tenant)).status_code \
            == 200
        now -= 1

    @ENGINE_PROPERTY
    @given(method=st.from_regex(r"[A-Z]{1,12}", fullmatch=True), path=st.from_regex(r"/[a-z0-9/]{0,30}",
                                                                                       fullmatch=True))
    def odd_requests(method: str, path: str) -> None:
        engine.http.request(method, path)

    odd_requests()
    text = engine.http.get("/metrics").text
    values: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("aiops_"):
            for name, value in LABEL.findall(line):
                values.setdefault(name, set()).add(value)
    assert "acme" not in text and "globex" not in text
    assert values["method"] <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    assert values["tenant"] <= {"_all"}
    templates = set(engine.http.get("/api/v1/openapi.json").json()["paths"]) | {
        "/-/healthy", "/-/ready", "/metrics", "/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/oauth2-redirect",
        "<unmatched>"}
    assert values["route"] <= templates  # route templates, never the raw paths sent
    record_property("measured", "no tenant id in /metrics; label values: " + ", ".join(
        f"{name} {len(found)}" for name, found in sorted(values.items())))


def test_doctests() -> None:
    import doctest

    from deployments import observability

    assert doctest.testmod(observability).failed == 0
