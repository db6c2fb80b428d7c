"""A real Prometheus (Debian's 2.42) remote-writes to the engine; its samples come back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from aiops.auth.roles import Role
from tests.conftest import RunningEngine, free_port, wait_for

pytestmark = pytest.mark.engine

PROMETHEUS = shutil.which("prometheus")


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus is not installed (apt-get install prometheus); "
                                               ".ci/run installs it")
def test_prometheus_remote_write_reaches_the_engine(engine: RunningEngine, tmp_path: Path) -> None:
    _, key = engine.create_key("ingestion")
    port = engine.settings.http_port
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: payment-api          # becomes the engine's service_id
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:{port}"]
remote_write:
  - url: http://127.0.0.1:{port}/api/v1/ingest/prometheus
    authorization:
      credentials: {key}
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 500
""")
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{free_port()}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        def scraped_up_series() -> list[dict]:
            response = engine.http.get("/api/v1/series", params={"service_id": "payment-api", "metric_name": "up"},
                                       headers=engine.auth(role=Role.VIEWER))
            assert response.status_code == 200
            return response.json()["series"]

        found = wait_for(scraped_up_series, timeout=90, interval=0.5, what="Prometheus samples in the engine")
        assert found[0]["service_id"] == "payment-api"
        assert found[0]["labels"]["job"] == "payment-api"
        assert found[0]["labels"]["instance"] == f"127.0.0.1:{port}"
        assert all(value == 1.0 for _, value in found[0]["points"])
        # The engine's own counters arrived too, under their Prometheus names.
        requests = engine.http.get("/api/v1/series", params={"service_id": "payment-api",
                                                             "metric_name": "aiops_http_requests_total"},
                                   headers=engine.auth(role=Role.VIEWER)).json()["series"]
        assert requests and {"method", "route", "status"} <= set(requests[0]["labels"])
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    assert "Failed to send batch" not in (tmp_path / "prometheus.log").read_text()
