"""``aiops eval detect|nab|rca``: offline evaluation with the live model code."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from aiops.cli.common import fail, settings_or_exit

app = typer.Typer(help="Offline evaluation.", no_args_is_help=True)
DEFAULT_GROUPS_HELP = "Nezha's case names"


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
    for rule, how in (("best", "the threshold that scores best on the other categories; the shipped rule"),
                      ("quiet", "each candidate at the lowest threshold within the clean budget"),
                      ("member_tail", "each candidate where a member's likelihood tail is 1e-5, HTM's alarm")):
        report = select(grids, series, windows, rule=rule)
        typer.echo(f"leave one category out, threshold rule {rule!r} ({how}); at most 0.5 false episodes "
                   "per series-month on clean synthetic series, none on windowless training categories:")
        for fold in report.folds:
            held = "no windows" if fold.held_out_score is None else f"{fold.held_out_score:.1f}"
            typer.echo(f"  {fold.held_out:24} <- {fold.choice.name} @ {fold.threshold:.2f} "
                       f"(train {fold.train_score:.1f}); held out: {held} (raw {fold.held_out_raw:.2f})")
        typer.echo(f"  cross-validated NAB score (held-out raw scores summed, normalised once): "
                   f"{report.cross_validated:.1f}")
        typer.echo(f"  chosen on all categories: {report.final.choice.name} @ {report.final.threshold:.2f} "
                   f"({report.final.train_score:.1f})")


def _figures(result) -> str:
    ac = result.ac
    return f"AC@1 {ac[0]:.2f}  AC@3 {ac[2]:.2f}  Avg@5 {result.avg5:.3f}"


@app.command("rca")
def rca(
    cases: Path = typer.Option(..., "--cases", exists=True, file_okay=False, help="folder of case folders"),
    output: Path = typer.Option(..., "--output", dir_okay=False, help="JSON file for the rankings"),
    model: str | None = typer.Option(None, "--model", help="ranker name (default: rca.ranker)"),
    labels: Path | None = typer.Option(None, "--labels", exists=True, dir_okay=False,
                                       help="case -> root-cause service JSON; prints AC@1, AC@3, Avg@5"),
    modalities: str = typer.Option("metric,trace,log", "--modalities",
                                   help="telemetry the ranker may read: metric, trace, log (comma-separated)"),
    groups: str = typer.Option(DEFAULT_GROUPS_HELP, "--groups",
                               help="regex on case names with named groups 'system' and 'fault', for the "
                                    "per-system and per-fault figures (read after ranking, never by the ranker)"),
    cross_validate: bool = typer.Option(False, "--cross-validate",
                                        help="choose the combined ranker's weights on each system and score "
                                             "them on the others (needs --labels)"),
    per_case: bool = typer.Option(False, "--per-case", help="also list every case whose root cause was not first"),
) -> None:
    """Rank every service of every case with the live ranker code, write the rankings, score them."""
    import json

    from aiops.evaluation import rca as evaluation

    name = model or settings_or_exit().rca.ranker
    chosen = tuple(m.strip() for m in modalities.split(",") if m.strip())
    unknown = sorted(set(chosen) - {"metric", "trace", "log"})
    if unknown or not chosen:
        raise fail(f"--modalities: unknown {', '.join(unknown) or 'empty list'} (use metric, trace, log)", 2)
    pattern = evaluation.DEFAULT_GROUPS if groups == DEFAULT_GROUPS_HELP else groups
    try:
        re.compile(pattern)
    except re.error as error:
        raise fail(f"--groups: not a regular expression ({error})", 2) from None
    try:
        ranker = evaluation.ranker_named(name)
        loaded = evaluation.read_cases(cases)
        truth = json.loads(labels.read_text()) if labels is not None else None
    except (KeyError, ValueError) as error:
        raise fail(str(error.args[0] if isinstance(error, KeyError) else error), 2) from None
    except json.JSONDecodeError as error:
        raise fail(f"{labels}: {error}", 2) from None
    evidence = None
    if evaluation.fusable(ranker):
        evidence = evaluation.case_evidence(loaded, ranker)
        rankings = evaluation.fused_rankings(evidence, name, ranker.config.model_dump(), chosen)
    else:  # rankers that read metrics only ignore spans and logs; hand them over as chosen all the same
        rankings = {}
        for c in loaded:
            spans = c.spans if {"trace", "log"} & set(chosen) else None  # logs are tied to their spans
            case = evaluation.Case(c.name, c.frame, c.anomaly_start, spans, c.logs if "log" in chosen else None)
            rankings[c.name] = evaluation.ranking_json(evaluation.rank_case(case, ranker))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(rankings, indent=1))
    reads = ", ".join(chosen) if evidence is not None else "metric (it reads no traces or logs)"
    typer.echo(f"ranked {len(rankings)} cases with {name} ({reads}) into {output}")
    if truth is None:
        if cross_validate:
            raise fail("--cross-validate needs --labels", 2)
        return
    try:
        result = evaluation.score(rankings, truth)
    except ValueError as error:
        raise fail(f"{labels}: {error}", 2) from None
    metrics_only = None
    if evidence is not None and chosen != ("metric",):
        metrics_only = evaluation.fused_rankings(evidence, name, ranker.config.model_dump(), ("metric",))

    def line(label: str, subset: dict[str, str]) -> str:
        text = f"{label}, {len(subset)} cases: {_figures(evaluation.score(rankings, subset))}"
        if metrics_only is not None:
            text += f"  | metrics only: {_figures(evaluation.score(metrics_only, subset))}"
        return text

    typer.echo(line(f"{name} on all", truth).replace(f"{name} on all, {len(truth)} cases:",
                                                     f"{name} on {result.cases} cases:"))
    for system, subset in sorted(evaluation.by_group(truth, pattern, "system").items()):
        typer.echo("  " + line(system, subset))
        for fault, inner in sorted(evaluation.by_group(subset, pattern, "fault").items()):
            typer.echo("    " + line(fault, inner))
    for fault, subset in sorted(evaluation.by_group(truth, pattern, "fault").items()):
        typer.echo("  " + line(f"all {fault}", subset))
    if per_case:
        for case_name, position in sorted(result.misses.items()):
            typer.echo(f"  {case_name}: root cause ranked {position or 'not at all'}")
    if cross_validate:
        systems = evaluation.by_group(truth, pattern, "system")
        if evidence is None or len(systems) < 2:
            raise fail("--cross-validate needs the multimodal ranker and cases of at least two systems "
                       "(named by --groups)", 2)
        folds = evaluation.cross_validate(evidence, truth, systems, name, ranker.config.model_dump())
        typer.echo("cross-validated (weights chosen on one system, scored on the other):")
        held = {}
        for fold in folds:
            weights = ", ".join(f"{k} {v:g}" for k, v in fold.chosen.items())
            typer.echo(f"  tuned on {fold.tuned_on} ({weights}; Avg@5 there {fold.tuned.avg5:.3f}) -> "
                       f"{fold.scored_on}: {_figures(fold.held_out)}")
            held.update(fold.rankings)
        scored = {c: t for c, t in truth.items() if c in held}
        typer.echo(f"  all held-out cases, {len(scored)}: {_figures(evaluation.score(held, scored))}")
        for system, subset in sorted(evaluation.by_group(scored, pattern, "system").items()):
            for fault, inner in sorted(evaluation.by_group(subset, pattern, "fault").items()):
                typer.echo(f"    {system} {fault}, {len(inner)} cases: {_figures(evaluation.score(held, inner))}")
