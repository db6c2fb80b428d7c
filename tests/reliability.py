"""RELIABILITY.md from the tests' own output.

Tests of faults and attacks carry ``@pytest.mark.reliability(fault=..., promise=...)`` and
report what they measured with ``record_property("measured", ...)`` (once per test). A
``kind=...`` argument (``"1 work before limits"``) files the row under that input kind of
the hardening section (issue #19), one table per kind, in the kinds' order. The hooks in
``conftest.py`` collect each such test's outcome into ``reliability-results.json``;
``python -m tests.reliability [RESULTS]`` renders that into ``RELIABILITY.md``. A partial
run updates only its own rows.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiops.bench.report import Figure

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "reliability-results.json"
REPORT = REPO / "RELIABILITY.md"
BENCH_RESULTS = REPO / "bench-results"


def collect(item, report) -> dict | None:
    """One result row for a finished reliability test (None for other tests)."""
    marker = item.get_closest_marker("reliability")
    if marker is None:
        return None
    measured = "; ".join(str(value) for name, value in item.user_properties if name == "measured")
    row = {"fault": marker.kwargs["fault"], "promise": marker.kwargs["promise"], "test": item.nodeid,
           "outcome": report.outcome, "seconds": round(report.duration, 1), "measured": measured}
    if marker.kwargs.get("kind"):
        row["kind"] = marker.kwargs["kind"]
    return row


def save(rows: list[dict]) -> None:
    """Merge this run's rows into the results file (a partial run updates only its own tests)."""
    if not rows:
        return
    kept = {}
    if RESULTS.is_file():
        kept = {row["test"]: row for row in json.loads(RESULTS.read_text()).get("rows", [])}
    kept.update({row["test"]: row for row in rows})
    RESULTS.write_text(json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"),
                                   "rows": list(kept.values())}, indent=1))


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell (no pipes or line breaks of its own)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _row(r: dict) -> str:
    verdict = {"passed": "kept", "failed": "**BROKEN**", "skipped": "not run"}.get(r["outcome"], r["outcome"])
    test = r["test"].split("::", 1)
    return (f"| {cell(r['fault'])} | {cell(r['promise'])} | {cell(r['measured'] or '-')} | {verdict} | "
            f"`{test[0]}` {cell(test[-1])} ({r['seconds']}) |")


def _kind_order(kind: str) -> tuple[int, str]:
    number = kind.split(" ", 1)[0]
    return (int(number) if number.isdigit() else 10**6, kind)


def kinds_section(rows: list[dict]) -> list[str]:
    """The hardening rows (issue #19), one table per input kind."""
    kinds = sorted({r["kind"] for r in rows if r.get("kind")}, key=_kind_order)
    if not kinds:
        return []
    lines = ["", "## Input kinds (hardening, issue #19)", "",
             "Each kind of input that once slipped through, fixed everywhere it occurs: its examples as "
             "tests through the real engine, and a property or fuzz test trying its variants.",
             ]
    for kind in kinds:
        number, _, name = kind.partition(" ")
        lines += ["", f"### {number}. {name[:1].upper() + name[1:]}", "",
                  "| tried | what the engine promises | measured | result | test (seconds) |",
                  "|---|---|---|---|---|"]
        lines += [_row(r) for r in sorted((r for r in rows if r.get("kind") == kind), key=lambda r: r["test"])]
    return lines


def render(results: dict) -> str:
    rows = sorted((r for r in results["rows"] if not r.get("kind")), key=lambda r: (r["fault"], r["test"]))
    lines = [
        "# Reliability and security, measured",
        "",
        f"Produced by `python -m tests.reliability` from the test run of {results['at']} "
        "(`make test`; each row is one test, its outcome and what it measured).",
        "",
        "| fault or attack | what the engine promises | measured | result | test (seconds) |",
        "|---|---|---|---|---|",
    ]
    lines += [_row(r) for r in rows]
    return "\n".join(lines + kinds_section(results["rows"]) + soak_section()) + "\n"


def _shown(value: float) -> str:
    """One decimal, or two where one would round a near miss up to a round figure (99.95 -> 100.0)."""
    one = f"{value:,.1f}"
    return f"{value:,.2f}" if one.endswith(".0") and round(value, 2) != round(value) else one


def soak_section() -> list[str]:
    """The latest ``aiops bench soak`` figures (load is a benchmark, not a timed test)."""
    latest = None
    for path in sorted(BENCH_RESULTS.glob("bench-*.json")):
        for result in json.loads(path.read_text()).get("results", []):
            if result.get("bench") == "soak":
                latest = (path.name, result)
    lines = ["", "## Load and soak", ""]
    if latest is None:
        return lines + ["No `aiops bench soak` result on this machine yet; run `aiops bench soak --minutes 10`."]
    name, result = latest
    lines += [f"`aiops bench soak` ({name}): mixed traffic (ingest, queries, alerts) at half the measured "
              "ingest maximum.", "", "| figure | value | target | met |", "|---|---|---|---|"]
    for figure in result["figures"]:
        met = {None: "", True: "yes", False: "**no**"}[Figure(**figure).meets_target()]
        note = f" ({figure['note']})" if figure.get("note") and len(figure["note"]) < 200 else ""
        lines.append(f"| {figure['name']}{note} | {_shown(figure['value'])} {figure['unit']} | "
                     f"{figure.get('target', '')} | {met} |")
    return lines


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    if not source.is_file():
        print(f"{source} not found: run `make test` first", file=sys.stderr)
        return 2
    REPORT.write_text(render(json.loads(source.read_text())))
    print(f"wrote {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

