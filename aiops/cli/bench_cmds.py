"""``aiops bench [NAME...]``: run benchmarks, print a table, write JSON."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from aiops.bench.report import render, save
from aiops.bench.suite import BENCHES, runner
from aiops.cli.common import fail
from aiops.logs import configure_logging


def bench(
    names: list[str] = typer.Argument(None, help=f"benchmarks to run (default: all): {', '.join(BENCHES)}"),
    output: Path = typer.Option(Path("bench-results"), "--output", help="folder for the JSON results"),
    minutes: float = typer.Option(10.0, "--minutes", min=0.5, help="how long `soak` runs"),
) -> None:
    """Run the benchmark suite; print a table and write JSON."""
    os.environ["AIOPS_BENCH_SOAK_MINUTES"] = str(minutes)
    configure_logging("WARNING")
    chosen = names or list(BENCHES)
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        raise fail(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}", 2)
    results = []
    for name in chosen:
        typer.echo(f"running {name}: {BENCHES[name][1]} ...", err=True)
        results.append(runner(name)())
    typer.echo(render(results))
    typer.echo(f"\nwritten to {save(results, output)}", err=True)
