"""What operators watch: /metrics carries the actors' figures, requests carry ids, logs are JSON."""

from __future__ import annotations

import json
import logging
import time

import pytest

from aiops.auth.roles import Role
from aiops.logs import REQUEST_ID, TENANT_ID, JsonFormatter
from tests.conftest import RunningEngine, wait_for

pytestmark = pytest.mark.engine


def test_metrics_carry_the_actors_figures(engine: RunningEngine) -> None:
    now = time.time()
    body = {"series": [{"service_id": "observed", "metric_name": "cpu", "points": [[now - 60 * k, 1.0 + k]
                                                                                  for k in range(5)]}]}
    assert engine.http.post("/api/v1/ingest/metrics", json=body, headers=engine.auth()).status_code == 200

    def scraped() -> str | None:
        text = engine.http.get("/metrics").text
        return text if 'aiops_watchdog_points{tenant="_all"}' in text else None

    # Totals only: /metrics is open, and tenant ids appear there only with metrics.per_tenant.
    text = wait_for(scraped, timeout=30, what="the watchdog's figures on /metrics")
    assert 'tenant="acme"' not in text
    for name in ("aiops_watchdog_series", "aiops_watchdog_queue_depth", "aiops_rca_completed", "aiops_rca_queue_depth",
                 "aiops_embedded_texts", "aiops_http_requests_total", "aiops_ingest_points_total"):
        assert name in text, name


def test_requests_carry_an_id(engine: RunningEngine) -> None:
    given = engine.http.get("/api/v1/status", headers={**engine.auth(role=Role.VIEWER), "X-Request-ID": "trace-42"})
    assert given.headers["X-Request-ID"] == "trace-42"
    made = engine.http.get("/api/v1/status", headers=engine.auth(role=Role.VIEWER))
    assert len(made.headers["X-Request-ID"]) >= 16 and made.headers["X-Request-ID"] != "trace-42"


def test_log_lines_are_json_with_request_and_tenant() -> None:
    record = logging.LogRecord("aiops.test", logging.WARNING, __file__, 1, "stored %d points", (5,), None)
    request, tenant = REQUEST_ID.set("req-1"), TENANT_ID.set("acme")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(request)
        TENANT_ID.reset(tenant)
    assert line["msg"] == "stored 5 points" and line["level"] == "WARNING" and line["logger"] == "aiops.test"
    assert line["request_id"] == "req-1" and line["tenant_id"] == "acme" and line["ts"].endswith("+00:00")
