"""The schema for a ClickHouse *cluster*: replicated local tables plus a Distributed table each.

``aiops schema --cluster NAME`` prints it. Each table ``t`` becomes ``t_local`` (``ON
CLUSTER``, the ``Replicated*`` form of its engine, one ZooKeeper/Keeper path per shard)
and ``t``, a ``Distributed`` table over the ``t_local`` tables sharded by
``cityHash64(tenant_id)``. Every tenant's rows of a table thus live on one shard, which
keeps ``FINAL`` (per-shard merging) correct and tenant queries on one shard. The engine
itself is unchanged: it reads and writes ``t`` as on a single server. Set
``insert_distributed_sync = 1`` for the engine's user, so an insert answers only once
the shard holds it (the engine's 2xx means durable).
"""

from __future__ import annotations

import re

from aiops.settings import RetentionSettings
from aiops.storage.migrations import MIGRATIONS, render

_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \(")
_ENGINE = re.compile(r"ENGINE = (\w*)MergeTree(?:\(([^)]*)\))?")
_ALTER = re.compile(r"ALTER TABLE (\w+) ")
_VIEW = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS(.*)FROM (\w+)(.*)", re.S)


def _replicated(statement: str, table: str) -> str:
    def engine(match: re.Match) -> str:
        kind, arguments = match.group(1), match.group(2)
        path = f"'/clickhouse/tables/{{shard}}/{{database}}/{table}_local', '{{replica}}'"
        extra = f", {arguments}" if arguments else ""
        return f"ENGINE = Replicated{kind}MergeTree({path}{extra})"

    return _ENGINE.sub(engine, statement, count=1)


def cluster_statements(cluster: str, retention: RetentionSettings | None = None) -> list[str]:
    """Every migration's statements, rewritten for ``cluster``, in order."""
    retention = retention or RetentionSettings()
    on = f"ON CLUSTER '{cluster}'"
    out = []
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        for raw in migration.statements:
            statement = render(raw, retention)
            created = _CREATE.search(statement)
            view = _VIEW.search(statement)
            if created:
                table = created.group(1)
                local = _CREATE.sub(f"CREATE TABLE IF NOT EXISTS {table}_local {on} (", statement, count=1)
                out.append(_replicated(local, table))
                out.append(f"CREATE TABLE IF NOT EXISTS {table} {on} AS {table}_local "
                           f"ENGINE = Distributed('{cluster}', currentDatabase(), {table}_local, "
                           "cityHash64(tenant_id))")
            elif view:
                name, target, select, source, rest = view.groups()
                out.append(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name} {on} TO {target}_local AS{select}"
                           f"FROM {source}_local{rest}")
            elif statement.lstrip().startswith("INSERT INTO "):  # a backfill: runs through the Distributed tables
                out.append(statement)
            elif _ALTER.match(statement):
                out.append(_ALTER.sub(lambda m: f"ALTER TABLE {m.group(1)}_local {on} ", statement, count=1))
            else:
                raise ValueError(f"migration {migration.version} has a statement the cluster form does not know: "
                                 f"{statement[:60]}")
    return out
