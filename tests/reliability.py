"""RELIABILITY.md from the tests' own output.

Tests of faults and attacks carry ``@pytest.mark.reliability(fault=..., promise=...)`` and
report what they measured with ``record_property("measured", ...)``. The hooks in
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
    return {"fault": marker.kwargs["fault"], "promise": marker.kwargs["promise"], "test": item.nodeid,
            "outcome": report.outcome, "seconds": round(report.duration, 1), "measured": measured}


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


def render(results: dict) -> str:
    rows = sorted(results["rows"], key=lambda r: (r["fault"], r["test"]))
    lines = [
        "# Reliability and security, measured",
        "",
        f"Produced by `python -m tests.reliability` from the test run of {results['at']} "
        "(`make test`; each row is one test, its outcome and what it measured).",
        "",
        "| fault or attack | what the engine promises | measured | result | test (seconds) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = {"passed": "kept", "failed": "**BROKEN**", "skipped": "not run"}.get(r["outcome"], r["outcome"])
        test = r["test"].split("::", 1)
        lines.append(f"| {r['fault']} | {r['promise']} | {r['measured'] or '-'} | {verdict} | "
                     f"`{test[0]}` {test[-1]} ({r['seconds']}) |")
    return "\n".join(lines + soak_section()) + "\n"


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

