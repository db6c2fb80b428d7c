"""``aiops demo`` end to end against the running test engine: right root causes, the first fix
suggested for the repeated fault, readable pictures, exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, RunningEngine

pytestmark = [pytest.mark.engine, pytest.mark.cli]


def test_demo_finds_every_injected_fault(engine: RunningEngine, tmp_path: Path) -> None:
    settings = engine.settings
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIOPS_")}
    env.update(AIOPS_DATA_DIR=str(settings.data_dir), AIOPS_HTTP_PORT=str(settings.http_port),
               AIOPS_WEBHOOK_PORT=str(settings.webhook_port), AIOPS_JWT_SECRET=settings.jwt_secret.get_secret_value(),
               COLUMNS="160")
    done = subprocess.run([sys.executable, "-m", "aiops.cli.main", "demo", "--output", str(tmp_path)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f":{settings.http_port}" in done.stdout  # it used the running engine, not a new one
    assert "every root cause right, one incident per round" in done.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    rounds = report["rounds"]
    assert [r["fault"] for r in rounds] == ["CPU saturation", "latency leak", "error burst", "CPU saturation"]
    assert all(r["root_causes"][0]["service_id"] == r["injected"] for r in rounds)
    # The shop's OTLP spans were read: every root cause shows what its own spans did.
    assert all(any(e["kind"] == "trace" for e in r["root_causes"][0]["evidence"]) for r in rounds), [
        r["root_causes"][0]["evidence"] for r in rounds]
    # One incident per round: the alert, the episodes on the faulty service and on those it slowed.
    for r in rounds:
        kinds = {m["kind"] for m in r["members"]}
        services = {m["service_id"] for m in r["members"]}
        assert r["incident_id"].startswith("inc-") and r["incidents"] == 1, r
        assert kinds == {"alertmanager_alert", "watchdog_episode"} and {"frontend", r["injected"]} <= services, r
    assert len({r["incident_id"] for r in rounds}) == 4
    # The repeated fault is matched with the first round's incident, resolved with its fix.
    assert rounds[-1]["similar"][0]["incident_id"] == rounds[0]["incident_id"]
    assert all(r["blast_radius"] for r in rounds)
    for number, r in enumerate(rounds, 1):
        picture = (tmp_path / f"blast-radius-round-{number}.svg").read_text()
        assert picture.startswith("<svg") and "root cause" in picture and picture.rstrip().endswith("</svg>")
        ringed = picture.count('stroke="#2e86c1" stroke-width="4"')  # the incident's members
        assert ringed == len({m["service_id"] for m in r["members"]}), (number, ringed)
