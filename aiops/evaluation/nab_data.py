"""Reading a NAB tree (``data/<category>/<file>.csv`` with ``timestamp,value``) and its labels."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Series:
    name: str  # path relative to the data dir, e.g. "realKnownCause/nyc_taxi.csv"
    timestamps: np.ndarray  # datetime64[s]
    values: np.ndarray  # float64

    @property
    def unix_seconds(self) -> np.ndarray:
        return self.timestamps.astype("datetime64[s]").astype(np.int64).astype(np.float64)


def read_series(path: Path, name: str) -> Series:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"timestamp", "value"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs the columns timestamp,value")
        rows = list(reader)
    stamps = np.empty(len(rows), dtype="datetime64[s]")
    values = np.empty(len(rows), dtype=np.float64)
    for number, row in enumerate(rows):
        try:
            stamps[number] = _instant(row["timestamp"] or "")
            values[number] = _value(row["value"] or "")
        except ValueError as error:
            # Line numbers as an editor shows them: the header is line 1.
            raise ValueError(f"{path}, line {number + 2}: {error}") from None
    # Scored in time order, as a stream would deliver it, whatever order the file lists.
    order = np.argsort(stamps, kind="stable")
    return Series(name, stamps[order], values[order])


def _value(text: str) -> float:
    """A finite number: an empty cell, NaN or ±inf is refused (it is not a measurement to score)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"value {text.strip()!r} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"value {text.strip()!r} is not a finite number")
    return value


def _instant(text: str) -> np.datetime64:
    """NAB's ``2014-04-01 00:00:00`` (or ISO 8601), or unix seconds."""
    text = text.strip()
    try:
        return np.datetime64(int(float(text)), "s")
    except (ValueError, OverflowError):  # not a number, or nan / inf
        pass
    try:
        return np.datetime64(text.replace(" ", "T").removesuffix("Z"), "s")
    except ValueError:
        raise ValueError(f"timestamp {text!r} is neither a date-time nor unix seconds") from None


def read_tree(data_dir: Path) -> list[Series]:
    """Every ``*.csv`` under ``data_dir``, sorted by relative path."""
    files = sorted(data_dir.rglob("*.csv"))
    return [read_series(path, path.relative_to(data_dir).as_posix()) for path in files]


def read_labels(path: Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    raw = json.loads(path.read_text())
    return {
        name: [(np.datetime64(start.replace(" ", "T"), "s"), np.datetime64(end.replace(" ", "T"), "s"))
               for start, end in windows]
        for name, windows in raw.items()
    }
