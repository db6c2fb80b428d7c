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
    deployed = report.as_deployed
    typer.echo(
        f"  at the model's own threshold {deployed.threshold:.4f} (as deployed; the sweep above is NAB's own method): "
        f"{deployed.score:.1f}; detected {deployed.true_positives}, false positives {deployed.false_positives}"
    )


@app.command("rca")
def rca(
    cases: Path = typer.Option(..., "--cases", exists=True, file_okay=False, help="folder of case folders"),
    output: Path = typer.Option(..., "--output", dir_okay=False, help="JSON file for the rankings"),
    model: str | None = typer.Option(None, "--model", help="ranker name (default: rca.ranker)"),
    labels: Path | None = typer.Option(None, "--labels", exists=True, dir_okay=False,
                                       help="case -> root-cause service JSON; prints AC@1, AC@3, Avg@5"),
) -> None:
    """Rank every service of every case with the live ranker code, write the rankings, score them."""
    import json

    from aiops.evaluation.rca import rank_cases, ranker_named, score

    name = model or settings_or_exit().rca.ranker
    try:
        ranker = ranker_named(name)
        rankings = rank_cases(cases, ranker)
    except (KeyError, ValueError) as error:
        raise fail(str(error.args[0] if isinstance(error, KeyError) else error), 2) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(rankings, indent=1))
    typer.echo(f"ranked {len(rankings)} cases with {name} into {output}")
    if labels is not None:
        try:
            result = score(rankings, json.loads(labels.read_text()))
        except (ValueError, json.JSONDecodeError) as error:
            raise fail(f"{labels}: {error}", 2) from None
        ac = result.ac
        typer.echo(f"{name} on {result.cases} cases: AC@1 {ac[0]:.2f}  AC@3 {ac[2]:.2f}  Avg@5 {result.avg5:.3f}")
        for case, position in sorted(result.misses.items()):
            typer.echo(f"  {case}: root cause ranked {position or 'not at all'}")
