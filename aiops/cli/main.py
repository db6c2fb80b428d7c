"""The ``aiops`` command."""

from __future__ import annotations

import typer

from aiops.cli import bench_cmds, demo_cmd, engine_cmds, eval_cmds, identity_cmds, schema_cmd, tenant_cmds

app = typer.Typer(
    name="aiops",
    help="AIOps Engine: anomaly detection, root-cause analysis and incident memory on Ray.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("up")(engine_cmds.up)
app.command("down")(engine_cmds.down)
app.command("token")(identity_cmds.token)
app.add_typer(tenant_cmds.app, name="tenant")
app.command("bench")(bench_cmds.bench)
app.add_typer(eval_cmds.app, name="eval")
app.command("demo")(demo_cmd.demo)
app.command("schema")(schema_cmd.schema)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
