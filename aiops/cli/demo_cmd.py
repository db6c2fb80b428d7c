"""``aiops demo``: the end-to-end story on a simulated shop, with a report and blast-radius pictures.

Uses the engine answering on ``http_port`` / ``webhook_port`` when there is one (issuing
tokens with its shared secret); otherwise starts a temporary engine on a scratch data dir
and free ports, and stops it at the end. Exits 1 when the engine named a wrong root cause
or did not suggest the first resolution for the repeated fault.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from aiops.auth.roles import Role
from aiops.auth.tokens import issue_token
from aiops.cli.common import fail, settings_or_exit
from aiops.settings import Settings


def _answering(settings: Settings) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{settings.http_port}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def _target(settings: Settings, console: Console):
    from aiops.demo.runner import Target

    if _answering(settings):
        from aiops.auth.secrets import resolve_jwt_secret

        secret = resolve_jwt_secret(settings, create=False)
        if secret is None:
            raise fail("the running engine verifies tokens without a shared secret (JWKS / public key); "
                       "the demo needs jwt_secret to act as its tenant", 2)
        console.print(f"using the engine on :{settings.http_port} and :{settings.webhook_port}")
        yield Target(f"http://127.0.0.1:{settings.http_port}", f"http://127.0.0.1:{settings.webhook_port}",
                     lambda tenant, role: issue_token(secret, tenant_id=tenant, user_id="demo", role=Role(role),
                                                      ttl_seconds=3600))
        return
    from aiops.bench.engine_process import bench_engine

    with console.status("no engine is running: starting a temporary one (about 30 s) ..."):
        context = bench_engine()
        engine = context.__enter__()
    try:
        yield Target(engine.http_url, engine.webhook_url, lambda tenant, role: engine.token(tenant, Role(role)))
    finally:
        with console.status("stopping the temporary engine ..."):
            context.__exit__(None, None, None)


def demo(
    output: Path = typer.Option(Path("demo-output"), "--output", help="folder for the pictures and report.json"),
    seed: int = typer.Option(7, "--seed", help="the simulated shop's seed"),
) -> None:
    """Simulate a 14-service shop, inject faults, and watch the engine find them."""
    from aiops.demo.picture import blast_radius_svg
    from aiops.demo.runner import ROUNDS, Demo, lag_of, verdicts

    settings = settings_or_exit()
    console = Console()
    output.mkdir(parents=True, exist_ok=True)
    with _target(settings, console) as target:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            steps = 2 + 3 * len(ROUNDS)
            task = progress.add_task("starting", total=steps)

            def step(text: str) -> None:
                progress.update(task, description=text, advance=1)

            runner = Demo(target, step, seed=seed)
            try:
                results = runner.run()
            except (RuntimeError, httpx.HTTPError) as error:
                raise fail(f"the demo could not finish: {error}") from None
            finally:
                runner.close()
            progress.update(task, description="done", completed=steps)

    table = Table(title=f"aiops demo: tenant {runner.tenant}, {len(runner.system.services)} services")
    for column in ("round", "fault", "injected in", "flagged", "root cause (score)", "blast radius (lag)",
                   "incident (members)", "suggested fix", "RCA"):
        table.add_column(column)
    pictures = []
    for r in results:
        score = f" ({r.root_causes[0]['score']:.2f})" if r.root_causes else ""
        blast = ", ".join(f"{s} +{lag}m" for s, lag in sorted(lag_of(r).items(), key=lambda kv: kv[1]))
        similar = f"{r.similar[0]['incident_id']} ({r.similar[0]['similarity']:.2f})" if r.similar else "-"
        verdict = "[green]right[/green]" if r.correct else "[red]WRONG[/red]"
        incident = f"{r.incident_id} ({len(r.members)} signals: {', '.join(r.member_services)})"
        table.add_row(str(r.number), r.fault, r.injected, f"{r.flagged_after_s:.1f} s",
                      f"{r.root}{score} {verdict}", blast or "-", incident, similar, f"{r.rca_seconds:.1f} s")
        picture = output / f"blast-radius-round-{r.number}.svg"
        picture.write_text(blast_radius_svg(runner.system.graph, r.root, lag_of(r),
                                            f"Round {r.number}: {r.fault} in {r.injected}; the engine says {r.root}",
                                            members=set(r.member_services)))
        pictures.append(picture)
    console.print(table)
    console.print(f"[bold]Last summary:[/bold] {results[-1].summary}")
    (output / "report.json").write_text(json.dumps({"tenant": runner.tenant, "rounds": [asdict(r) for r in results]},
                                                   indent=1))
    console.print(f"pictures: {', '.join(str(p) for p in pictures)}; report: {output / 'report.json'}")
    problems = verdicts(results)
    if problems:
        for problem in problems:
            console.print(f"[red]{problem}[/red]")
        raise typer.Exit(1)
    console.print("[green]every root cause right, one incident per round, and the repeated fault got the first "
                  "fix suggested[/green]")
