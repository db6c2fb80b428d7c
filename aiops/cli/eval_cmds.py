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
    every: bool = typer.Option(False, "--all", help="every registered detector, one after another"),
    scores: Path | None = typer.Option(None, "--scores", exists=True, file_okay=False,
                                       help="score another detector's results instead (a tree of "
                                            "timestamp,anomaly_score CSVs, e.g. NAB's published results)"),
    per_file: bool = typer.Option(False, "--per-file", help="also print each file's score"),
    handed_over: bool = typer.Option(False, "--handed-over",
                                     help="give detectors that take them each file's min, max and probation up "
                                          "front, as NAB's runner does (to check a port against its original)"),
    cross_validate: bool = typer.Option(False, "--cross-validate",
                                        help="choose the default's configuration and threshold leaving one "
                                             "category out at a time (minutes), and print the folds"),
) -> None:
    """Run detectors over a NAB tree: standard-profile score, and per category what the model flags."""
    from aiops.evaluation.detect import nab as run
    from models.registry import entries

    if cross_validate:
        _cross_validate(data, labels)
        return
    if scores is not None:
        from aiops.evaluation.detect import nab_of_files

        try:
            report = nab_of_files(data, labels, scores)
        except (OSError, ValueError) as error:
            raise fail(str(error), 2) from None
        _print_nab(str(scores), report, per_file)
        return
    names = [entry.name for entry in entries("detector")] if every else [_model(model)]
    for name in names:
        try:
            report = run(data, labels, name, handed_over=handed_over)
        except (KeyError, ValueError) as error:
            raise fail(str(error.args[0] if isinstance(error, KeyError) else error), 2) from None
        _print_nab(name, report, per_file)


def _print_nab(name: str, report, per_file: bool) -> None:
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
        f"{deployed.score:.1f}; detected {deployed.true_positives}, false positives {deployed.false_positives}, "
        f"false episodes {report.false_episodes}"
    )
    typer.echo(f"  {'category':24} {'files':>5} {'best':>6} {'own':>6} {'windows found':>14} {'fp points':>9} "
               f"{'fp episodes':>11}")
    for c in report.categories:
        best = f"{c.best.score:6.1f}" if c.own.windows else f"{'-':>6}"
        own = f"{c.own.score:6.1f}" if c.own.windows else f"{'-':>6}"
        found = f"{c.own.true_positives}/{c.own.windows}"
        typer.echo(f"  {c.category:24} {c.files:5d} {best} {own} {found:>14} {c.own.false_positives:9d} "
                   f"{c.false_episodes:11d}")


def _cross_validate(data: Path, labels: Path) -> None:
    from aiops.bench.detect import CLEAN_DAYS, clean_series
    from aiops.evaluation.detect import read_corpus
    from aiops.evaluation.selection import default_candidates, evaluate, select

    try:
        series, windows = read_corpus(data, labels)
    except ValueError as error:
        raise fail(str(error), 2) from None
    clean = clean_series(50, seed=1)  # not the benchmark's seed: the benchmark stays a check
    candidates = default_candidates()
    grids = []
    for number, candidate in enumerate(candidates, 1):
        typer.echo(f"  [{number}/{len(candidates)}] {candidate.name}")
        grids.append(evaluate(candidate, series, windows, clean, CLEAN_DAYS))
    report = select(grids, series, windows)
    typer.echo("leave one category out (choice made on the other categories, at most 0.5 false episodes "
               "per series-month on clean synthetic series):")
    for fold in report.folds:
        held = "no windows" if fold.held_out_score is None else f"{fold.held_out_score:.1f}"
        typer.echo(f"  {fold.held_out:24} <- {fold.choice.name} @ {fold.threshold:.2f} "
                   f"(train {fold.train_score:.1f}); held out: {held} (raw {fold.held_out_raw:.2f})")
    typer.echo(f"cross-validated NAB score (held-out raw scores summed, normalised once): "
               f"{report.cross_validated:.1f}")
    typer.echo(f"chosen on all categories: {report.final.choice.name} @ {report.final.threshold:.2f} "
               f"({report.final.train_score:.1f})")


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
