"""The Grafana dashboard's queries run on the engine's real schema (chDB, Grafana's macros expanded)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aiops.settings import load_settings
from aiops.storage.store import Store
from tests.conftest import REPO

DASHBOARD = json.loads((REPO / "configs" / "grafana" / "aiops-engine.json").read_text())


def expand(sql: str) -> str:
    """What the ClickHouse data source does with its macros, for a fixed 24-hour range."""
    sql = re.sub(r"\$__timeInterval\((\w+)\)", r"toStartOfInterval(\1, INTERVAL 60 second)", sql)
    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"\1 >= now() - INTERVAL 1 DAY AND \1 <= now()", sql)
    return sql.replace("${tenant}", "acme")


def queries() -> list[tuple[str, str]]:
    found = [("tenant variable", v["query"]) for v in DASHBOARD["templating"]["list"] if v["type"] == "query"]
    found += [(panel["title"], target["rawSql"]) for panel in DASHBOARD["panels"] for target in panel["targets"]]
    return found


@pytest.mark.parametrize(("title", "sql"), queries(), ids=[title for title, _ in queries()])
def test_every_query_runs_on_the_schema(tmp_path: Path, title: str, sql: str) -> None:
    store = Store(load_settings(data_dir=tmp_path))
    store.migrate()
    try:
        with store._pool.borrow() as client:
            client.query(expand(sql))
    finally:
        store.close()


def test_panels_are_laid_out_and_cover_what_operators_ask() -> None:
    titles = " ".join(panel["title"].lower() for panel in DASHBOARD["panels"])
    assert "anomalies over time" in titles and "top services" in titles and "rca latency" in titles
    assert len({panel["id"] for panel in DASHBOARD["panels"]}) == len(DASHBOARD["panels"])
