"""``aiops eval detect|nab``: offline evaluation with the live model code."""

from __future__ import annotations

from pathlib import Path

import typer

from aiops.cli.common import fail, settings_or_exit

app = typer.Typer(help="Offline evaluation.", no_args_is_help=True)


def _model(model: str | None) -> str:
    return model or settings_or_exit().watchdog.detector


@app.command("detect")
def detect(
    input_dir: Path = typer.Option(..., "--input", exists=True, file_okay=False, help="folder of timestamp,value CSVs"),
    output_dir: Path = typer.Option(..., "--output", help="where the scored CSVs go (same relative paths)"),
    model: str | None = typer.Option(None, "--model", help="detector name (default: watchdog.detector)"),
) -> None:
    """Score every CSV under --input, streaming, into --output."""
    from aiops.evaluation.detect import detect as run

    try:
        written = run(input_dir, output_dir, _model(model))
    except (KeyError, ValueError) as error:
        raise fail(str(error), 2) from None
    typer.echo(f"scored {len(written)} files into {output_dir}")


@app.command("nab")
def nab(
    data: Path = typer.Option(..., "--data", exists=True, file_okay=False, help="a NAB data/ tree"),
    labels: Path = typer.Option(..., "--labels", exists=True, dir_okay=False, help="combined_windows.json"),
    model: str | None = typer.Option(None, "--model", help="detector name (default: watchdog.detector)"),
    per_file: bool = typer.Option(False, "--per-file", help="also print each file's score"),
) -> None:
    """Run the detector over a NAB tree and print its standard-profile NAB score."""
    from aiops.evaluation.detect import nab as run

    name = _model(model)
    try:
        report = run(data, labels, name)
    except (KeyError, ValueError) as error:
        raise fail(str(error), 2) from None
    result = report.result
    if per_file:
        for file, score in sorted(report.per_file.items()):
            typer.echo(f"  {score:8.2f}  {file}")
    typer.echo(
        f"NAB standard profile, {name}: {result.score:.1f}\n"
        f"  threshold {result.threshold:.4f}; windows {result.windows}, detected {result.true_positives}, "
        f"false positives {result.false_positives}; raw {result.raw:.2f} (null {result.null:.0f}, "
        f"perfect {result.perfect:.0f})"
    )
