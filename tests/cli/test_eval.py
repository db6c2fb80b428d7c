"""``aiops eval detect`` and ``aiops eval nab`` through the real command."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

AIOPS = [sys.executable, "-m", "aiops.cli.main"]


def write_series(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = np.datetime64("2020-01-01T00:00") + np.arange(values.size) * np.timedelta64(5, "m")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        for stamp, value in zip(stamps, values, strict=True):
            writer.writerow([str(stamp).replace("T", " "), value])


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*AIOPS, *args], capture_output=True, text=True, timeout=300)


def read_scores(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_detect_writes_scores_without_look_ahead(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = 50 + rng.normal(0, 1, 2000)
    values[1500] += 40
    write_series(tmp_path / "in" / "group" / "full.csv", values)
    write_series(tmp_path / "in" / "group" / "cut.csv", values[:1600])  # the same series, ending early
    result = run("eval", "detect", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    full = read_scores(tmp_path / "out" / "group" / "full.csv")
    cut = read_scores(tmp_path / "out" / "group" / "cut.csv")
    assert list(full[0]) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
    assert len(full) == 2000
    assert all(0.0 <= float(row["anomaly_score"]) <= 1.0 for row in full)
    assert [row["anomaly_score"] for row in full[:1600]] == [row["anomaly_score"] for row in cut]  # causal
    assert full[1500]["is_anomaly"] == "1"
    assert sum(row["is_anomaly"] == "1" for row in full[:1400]) == 0


def test_nab_prints_a_score(tmp_path: Path) -> None:
    values = 50 + np.random.default_rng(1).normal(0, 1, 1500)
    values[1200:1210] += 30
    write_series(tmp_path / "data" / "cat" / "one.csv", values)
    labels = {"cat/one.csv": [["2020-01-05 03:00:00.000000", "2020-01-05 07:00:00.000000"]]}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    result = run("eval", "nab", "--data", str(tmp_path / "data"), "--labels", str(tmp_path / "labels.json"))
    assert result.returncode == 0, result.stderr
    assert "NAB standard profile, seasonal:" in result.stdout
    score = float(result.stdout.split("seasonal:")[1].split()[0])
    assert score > 50  # the one window is found


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    write_series(tmp_path / "in" / "a.csv", np.ones(10))
    result = run("eval", "detect", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "o"), "--model", "zz")
    assert result.returncode == 2
    assert "no detector model named 'zz'" in result.stderr
