"""Benchmark results: one row per measured figure, printed as a table and saved as JSON."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiops import __version__


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""  # e.g. "< 30" or ">= 250000"; empty when there is none
    note: str = ""

    def meets_target(self) -> bool | None:
        if not self.target:
            return None
        op, _, number = self.target.partition(" ")
        bound = float(number)
        return {"<": self.value < bound, "<=": self.value <= bound, ">": self.value > bound,
                ">=": self.value >= bound}[op]


@dataclass
class BenchResult:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def add(self, *args, **kwargs) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        return figure


def machine() -> dict[str, str | int]:
    import os

    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count() or 0,
            "engine": __version__}


def render(results: list[BenchResult]) -> str:
    rows = [("bench", "figure", "value", "unit", "target", "ok")]
    for result in results:
        for f in result.figures:
            verdict = {None: "", True: "yes", False: "NO"}[f.meets_target()]
            value = f"{f.value:,.3f}" if abs(f.value) < 100 else f"{f.value:,.0f}"
            rows.append((result.bench, f.name, value, f.unit, f.target, verdict))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def save(results: list[BenchResult], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    document = {"machine": machine(), "results": [asdict(result) for result in results]}
    path.write_text(json.dumps(document, indent=2))
    (directory / "latest.json").write_text(json.dumps(document, indent=2))
    return path
