"""``aiops schema [--cluster NAME]``: print the ClickHouse schema the engine needs.

Without ``--cluster``: the statements the engine runs itself at start on one server. With
it: the same for a ClickHouse cluster (replicated ``*_local`` tables ``ON CLUSTER`` and a
``Distributed`` table each), for an operator to apply once per upgrade before starting
the engine against the cluster.
"""

from __future__ import annotations

import typer

from aiops.cli.common import settings_or_exit


def schema(
    cluster: str | None = typer.Option(None, "--cluster", help="ClickHouse cluster name (remote_servers)"),
) -> None:
    """Print the schema as SQL (for a ClickHouse cluster with --cluster)."""
    from aiops.storage.cluster_ddl import cluster_statements
    from aiops.storage.migrations import MIGRATIONS, render

    settings = settings_or_exit()
    if cluster:
        statements = cluster_statements(cluster, settings.retention)
    else:
        statements = [render(s, settings.retention) for m in sorted(MIGRATIONS, key=lambda m: m.version)
                      for s in m.statements]
    for statement in statements:
        typer.echo(" ".join(statement.split()) + ";")
