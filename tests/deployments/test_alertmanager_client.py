"""A real Alertmanager (Debian's 0.25) routes an alert to the engine; the anomaly and its RCA appear."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from aiops.auth.roles import Role
from tests.aiops.rca.synthetic import fault
from tests.conftest import RunningEngine, free_port, wait_for
from tests.deployments.test_anomalies import anomalies, ingest, new_tenant
from tests.deployments.test_rca import MINUTE, last_minute, per_minute

pytestmark = pytest.mark.engine

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.skipif(ALERTMANAGER is None, reason="Debian's prometheus-alertmanager is not installed "
                                                 "(apt-get install prometheus-alertmanager); .ci/run installs it")
def test_alertmanager_routes_an_alert_to_the_engine(engine: RunningEngine, tmp_path: Path) -> None:
    tenant = new_tenant(engine)
    _, key = engine.create_key("webhook", tenant=tenant)
    end = last_minute()
    data = {("checkout" if s == "db" else s, m): v for (s, m), v in fault(minutes=120, fault_at=100, seed=8).items()}
    ingest(engine, tenant, per_minute(data, end))

    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: aiops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: aiops
    webhook_configs:
      - url: http://127.0.0.1:{engine.settings.webhook_port}/api/v1/alerts/webhook
        send_resolved: true
        http_config:
          authorization:
            credentials: {key}
""")
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        wait_for(lambda: api.get("/-/ready").status_code == 200, timeout=30, what="Alertmanager to be ready")
        alert = {"labels": {"alertname": "CheckoutSlow", "service_id": "checkout", "severity": "critical"},
                 "annotations": {"summary": "checkout latency above 100 ms"},
                 "startsAt": rfc3339(end - 19 * MINUTE), "generatorURL": "http://prometheus.local/graph"}
        assert api.post("/api/v2/alerts", json=[alert]).status_code == 200

        def routed() -> list[dict]:
            return [a for a in anomalies(engine, tenant)["anomalies"] if a["source"] == "alertmanager"]

        [anomaly] = wait_for(routed, timeout=60, interval=0.5, what="the alert to reach the engine")
        assert (anomaly["service_id"], anomaly["metric_name"]) == ("checkout", "CheckoutSlow")

        def rca_done() -> dict | None:
            body = engine.http.get(f"/api/v1/rca/{anomaly['anomaly_id']}",
                                   headers=engine.auth(tenant=tenant, role=Role.VIEWER)).json()
            return body if body["status"] != "pending" else None

        result = wait_for(rca_done, timeout=60, interval=0.5, what="the alert's RCA")
        assert result["status"] == "done" and result["root_causes"][0]["service_id"] == "checkout"

        # Ending the alert: Alertmanager sends "resolved" and the anomaly is resolved.
        assert api.post("/api/v2/alerts", json=[{**alert, "endsAt": rfc3339(datetime.now(UTC).timestamp() - 1)}]
                        ).status_code == 200
        wait_for(lambda: routed()[0]["resolved"], timeout=60, interval=0.5, what="the resolved notification")
    finally:
        api.close()
        process.terminate()
        process.wait(timeout=10)
        log.close()
