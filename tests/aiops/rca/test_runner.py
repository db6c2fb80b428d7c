"""An RCA end to end on real embedded ClickHouse, and the LLM narrator over a real socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from aiops.ingest.builder import BatchBuilder
from aiops.rca.narrator import LlmNarrator
from aiops.rca.runner import RcaRunner
from aiops.settings import load_settings
from aiops.storage.records import AlertRecord, AnomalyRecord, RcaRecord
from aiops.storage.store import Store
from deployments.components import ComponentProbe
from tests.aiops.rca.synthetic import fault
from tests.fake_llm import FakeLlm

MINUTE = 60


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    server = FakeLlm()
    yield server
    server.close()


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[tuple[Store, RcaRecord]]:
    """A store holding two hours of a db fault (per minute) and the anomaly on db latency."""
    store = Store(load_settings(data_dir=tmp_path))
    store.migrate()
    end = (int(time.time()) // MINUTE) * MINUTE - MINUTE
    builder = BatchBuilder(now_ms=int(time.time() * 1000), max_past_seconds=86400, max_future_seconds=300)
    for (service, metric), values in fault(minutes=120, fault_at=100, seed=9).items():
        stamps = (end - MINUTE * np.arange(values.size)[::-1]) * 1000
        builder.add(f"{service}/{metric}", service, metric, {}, stamps.astype(np.int64), values)
    batch = builder.build()
    store.ingest_batch("t1", batch.points_table("t1"), batch.series_table("t1"), batch.digest("t1"), 1000)
    started = datetime.fromtimestamp(end - 19 * MINUTE, UTC)
    store.upsert_anomalies([AnomalyRecord("t1", "anom-1", "db", "latency_ms", 1, {}, "watchdog", "ewma", 0.99, 9.0,
                                          started, started, rca_triggered=True)])
    now = datetime.now(UTC)
    try:
        yield store, RcaRecord("t1", "anom-1", "running", requested_at=now, updated_at=now, attempts=1)
    finally:
        store.close()


def test_the_template_names_root_cause_blast_radius_and_past_fix(stored) -> None:
    store, request = stored
    store.save_topology("t1", [("web", "api"), ("api", "db")], "alice", datetime.now(UTC))
    fix = [{"incident_id": "inc-7", "resolution": "Raised the db connection pool size.", "similarity": 0.81}]
    result = RcaRunner(load_settings(), store, similar=lambda tenant, texts, root: fix).analyse(request)
    assert result.status == "done" and result.root_causes[0]["service_id"] == "db"
    assert {b["service_id"] for b in result.blast_radius} >= {"api", "web"}
    assert result.similar_incidents == fix
    summary = result.summary
    assert "db" in summary and "api" in summary and "web" in summary and "inc-7" in summary
    assert "Raised the db connection pool size." in summary


def test_an_alert_starts_its_rca_at_the_episode_that_led_up_to_it(stored) -> None:
    """A linked episode that ended long before the alert is an earlier incident, not this one's onset."""
    store, _ = stored
    onset = store.get_anomaly("t1", "anom-1").detected_at
    earlier = onset - timedelta(minutes=40)
    fired = onset + timedelta(minutes=3)
    now = datetime.now(UTC)
    store.upsert_anomalies([
        AnomalyRecord("t1", "anom-old", "db", "latency_ms", 1, {}, "watchdog", "ewma", 0.9, 5.0, earlier,
                      earlier + timedelta(minutes=4)),
        AnomalyRecord("t1", "anom-alert", "db", "DbSlow", 0, {}, "alertmanager", "alertmanager", 1.0, 0.0, fired,
                      fired, rca_triggered=True)])
    store.save_alerts([AlertRecord("t1", "fp-1", fired, None, "firing", "DbSlow", "db", {}, {}, "", "anom-alert",
                                   ["anom-old", "anom-1"], now)])
    runner = RcaRunner(load_settings(), store)
    start, alerts = runner.start_of(store.get_anomaly("t1", "anom-alert"))
    assert start == onset and [a.fingerprint for a in alerts] == ["fp-1"]
    result = runner.analyse(RcaRecord("t1", "anom-alert", "running", requested_at=now, updated_at=now, attempts=1))
    assert result.status == "done" and result.root_causes[0]["service_id"] == "db"


def test_the_llm_writes_the_summary_from_the_facts(stored, llm: FakeLlm) -> None:
    store, request = stored
    settings = load_settings(llm={"url": llm.url, "model": "fake-model", "api_key": "sk-test", "timeout_seconds": 2})
    result = RcaRunner(settings, store, narrator=LlmNarrator(settings.llm)).analyse(request)
    assert result.summary == llm.answer
    [call] = llm.requests
    assert call["path"] == "/v1/chat/completions" and call["authorization"] == "Bearer sk-test"
    assert call["body"]["model"] == "fake-model"
    assert '"service_id": "db"' in call["body"]["messages"][1]["content"]  # the facts went along


@pytest.mark.parametrize("mode", ["error", "slow"])
def test_a_failing_or_slow_llm_never_blocks_the_rca(stored, llm: FakeLlm, mode: str) -> None:
    store, request = stored
    llm.mode = mode
    settings = load_settings(llm={"url": llm.url, "timeout_seconds": 0.5})
    narrator = LlmNarrator(settings.llm)
    began = time.monotonic()
    result = RcaRunner(settings, store, narrator=narrator).analyse(request)
    assert time.monotonic() - began < 2.5  # the 3 s stall is cut at the 0.5 s timeout
    assert result.status == "done" and "db" in result.summary and result.summary != llm.answer
    assert narrator.last_error


def test_llm_status_words(llm: FakeLlm) -> None:
    def word(url: str | None) -> str:
        return asyncio.run(ComponentProbe(load_settings(llm={"url": url}), None, None).llm())

    assert word(None) == "disabled"
    assert word(llm.url) == "connected"
    llm.close()
    assert word(llm.url) == "error"
