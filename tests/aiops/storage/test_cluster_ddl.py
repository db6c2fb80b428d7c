"""The ClickHouse-cluster schema: every statement parses in ClickHouse (chDB), and keeps its shape."""

from __future__ import annotations

import pytest

from aiops.storage.client import open_client
from aiops.storage.cluster_ddl import cluster_statements
from aiops.storage.migrations import MIGRATIONS

STATEMENTS = cluster_statements("aiops")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    opened = open_client(f"chdb://{tmp_path_factory.mktemp('parse')}")
    yield opened
    opened.close()


def test_every_statement_parses(client) -> None:
    for statement in STATEMENTS:
        formatted = client.query("SELECT formatQuery({q:String})", parameters={"q": statement}).result_rows[0][0]
        if formatted.startswith("INSERT INTO"):  # backfills run once, through the Distributed tables
            assert "_local" not in formatted, statement[:80]
            continue
        assert "ON CLUSTER aiops" in formatted.replace("'", ""), statement[:80]


def test_each_table_is_replicated_locally_and_distributed_by_tenant() -> None:
    created = [s for s in STATEMENTS if s.startswith("CREATE TABLE")]
    tables = [s.split()[5] for s in created if "Distributed(" in s]
    assert len(created) == 2 * len(tables)
    for table in tables:
        local = next(s for s in created if s.split()[5] == f"{table}_local")
        assert "ENGINE = Replicated" in local and f"/{table}_local'" in local
    assert all("cityHash64(tenant_id)" in s for s in created if "Distributed(" in s)
    assert {"metric_points", "anomalies", "rca_results", "knowledge_base"} <= set(tables)
    total = sum(len(m.statements) for m in MIGRATIONS)
    assert len(STATEMENTS) == total + len(tables)  # one Distributed table more per CREATE
