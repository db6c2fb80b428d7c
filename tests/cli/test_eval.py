"""``aiops eval detect``, ``aiops eval nab`` and ``aiops eval rca`` through the real command."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aiops.settings import load_settings
from models.registry import build, entries

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
    default = load_settings().watchdog.detector
    assert f"NAB standard profile, {default}:" in result.stdout
    score = float(result.stdout.split(f"{default}:")[1].split()[0])
    assert score > 50  # the one window is found
    own = build("detector", default).config.threshold
    assert f"at the model's own threshold {own:.4f}" in result.stdout  # what eval detect flags
    # The category's line: files, best, own, windows found, false-positive points and episodes.
    line = next(x for x in result.stdout.splitlines() if x.split()[:1] == ["cat"])
    assert line.split()[1] == "1" and line.split()[4] == "1/1"


def test_nab_all_scores_every_registered_detector(tmp_path: Path) -> None:
    values = 50 + np.random.default_rng(4).normal(0, 1, 1200)
    values[1000:1010] += 30
    write_series(tmp_path / "data" / "cat" / "one.csv", values)
    labels = {"cat/one.csv": [["2020-01-04 10:00:00.000000", "2020-01-04 14:00:00.000000"]]}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    result = run("eval", "nab", "--data", str(tmp_path / "data"), "--labels", str(tmp_path / "labels.json"), "--all")
    assert result.returncode == 0, result.stderr
    for entry in entries("detector"):
        assert f"NAB standard profile, {entry.name}:" in result.stdout


def test_detect_scores_in_time_order_whatever_the_file_order(tmp_path: Path) -> None:
    values = 50 + np.random.default_rng(2).normal(0, 1, 900)
    values[800] += 40  # after the default's probation (600 points and a day)
    write_series(tmp_path / "in" / "sorted.csv", values)
    lines = (tmp_path / "in" / "sorted.csv").read_text().splitlines()
    shuffled = [lines[0], *np.random.default_rng(3).permutation(lines[1:]).tolist()]
    (tmp_path / "in" / "shuffled.csv").write_text("\n".join(shuffled) + "\n")
    start = int(np.datetime64("2020-01-01T00:00", "s").astype(np.int64))
    (tmp_path / "in" / "unix.csv").write_text("timestamp,value\n" + "".join(
        f"{start + 300 * i},{value}\n" for i, value in enumerate(values)))
    result = run("eval", "detect", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    expected = read_scores(tmp_path / "out" / "sorted.csv")
    assert read_scores(tmp_path / "out" / "shuffled.csv") == expected
    assert read_scores(tmp_path / "out" / "unix.csv") == expected
    assert expected[800]["is_anomaly"] == "1"


def test_unreadable_timestamps_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.csv").write_text("timestamp,value\nyesterday,1\n")
    result = run("eval", "detect", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "bad.csv" in result.stderr and "'yesterday'" in result.stderr


def test_nab_scores_another_detectors_results(tmp_path: Path) -> None:
    values = 50 + np.random.default_rng(5).normal(0, 1, 600)
    write_series(tmp_path / "data" / "cat" / "one.csv", values)
    labels = {"cat/one.csv": [["2020-01-02 10:00:00.000000", "2020-01-02 12:00:00.000000"]]}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    rows = (tmp_path / "data" / "cat" / "one.csv").read_text().splitlines()[1:]
    hit = "2020-01-02 10:00,"  # a detection at the window's start: a perfect score
    text = "timestamp,anomaly_score\n" + "".join(f"{r.split(',')[0]},{1.0 if r.startswith(hit) else 0.0}\n"
                                                  for r in reversed(rows))  # any row order
    (tmp_path / "published" / "cat").mkdir(parents=True)
    (tmp_path / "published" / "cat" / "one.csv").write_text(text)
    args = ["eval", "nab", "--data", str(tmp_path / "data"), "--labels", str(tmp_path / "labels.json")]
    result = run(*args, "--scores", str(tmp_path / "published"))
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split(": ")[1].split()[0]) == 100.0
    (tmp_path / "published" / "cat" / "one.csv").write_text("timestamp,anomaly_score\n2020-01-01 00:00:00,1\n")
    result = run(*args, "--scores", str(tmp_path / "published"))
    assert result.returncode == 2 and "1 rows, the data file has 600" in result.stderr


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "", "12,5"])
def test_unreadable_values_are_refused_with_file_and_line(tmp_path: Path, bad: str) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.csv").write_text(f'timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,"{bad}"\n')
    result = run("eval", "detect", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "bad.csv, line 3" in result.stderr and repr(bad) in result.stderr
    assert not (tmp_path / "o").exists()  # nothing scored from a file it could not read


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    write_series(tmp_path / "in" / "a.csv", np.ones(10))
    result = run("eval", "detect", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "o"), "--model", "zz")
    assert result.returncode == 2
    assert "no detector model named 'zz'" in result.stderr


# -- aiops eval rca ------------------------------------------------------------------------
def write_case(folder: Path, series: dict, start: float, fault_minute: int) -> None:
    folder.mkdir(parents=True)
    with (folder / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "service", "metric", "value"])
        for (service, metric), values in series.items():
            for i, value in enumerate(values):
                writer.writerow([int(start + 60 * i), service, metric, value])
    (folder / "case.json").write_text(json.dumps({"anomaly_start": start + 60 * fault_minute}))


def test_rca_ranks_every_case_and_scores_with_labels(tmp_path: Path) -> None:
    from tests.aiops.rca.synthetic import fault

    cases = tmp_path / "cases"
    renamed = {"db": "orders-db", "api": "orders", "web": "front-end"}
    for seed in range(3):
        data = {(renamed.get(s, s), m): v for (s, m), v in fault(fault_at=90, seed=seed).items()}
        write_case(cases / f"case-{seed}", data, 1_700_000_000, 90)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({f"case-{seed}": "orders-db" for seed in range(3)}))
    out = tmp_path / "out" / "rankings.json"

    done = run("eval", "rca", "--cases", str(cases), "--output", str(out), "--labels", str(labels))
    assert done.returncode == 0, done.stderr
    assert "AC@1 1.00" in done.stdout and "Avg@5 1.000" in done.stdout
    rankings = json.loads(out.read_text())
    assert set(rankings) == {"case-0", "case-1", "case-2"}
    first = rankings["case-0"]["ranking"]
    assert first[0]["service_id"] == "orders-db"
    assert {r["service_id"] for r in first} == {"orders-db", "orders", "front-end", "cache", "queue"}
    assert [r["score"] for r in first] == sorted((r["score"] for r in first), reverse=True)


def test_rca_refuses_bad_input_clearly(tmp_path: Path) -> None:
    (tmp_path / "cases" / "broken").mkdir(parents=True)
    done = run("eval", "rca", "--cases", str(tmp_path / "cases"), "--output", str(tmp_path / "o.json"))
    assert done.returncode == 2 and "needs case.json and metrics.csv" in done.stderr
    done = run("eval", "rca", "--cases", str(tmp_path / "cases"), "--output", str(tmp_path / "o.json"),
               "--model", "nope")
    assert done.returncode == 2 and "no ranker model named 'nope'" in done.stderr


def write_traced_case(folder: Path, tenant) -> None:
    """A case in the contract's layout from a simulated tenant: metrics.csv, traces.csv, logs.csv, case.json."""
    folder.mkdir(parents=True)
    frame = tenant.frame
    with (folder / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "service", "metric", "value"])
        for (service, metric), row in zip(frame.columns, frame.values, strict=True):
            writer.writerows([int(t), service, metric, v] for t, v in zip(frame.times, row, strict=True))
    spans, logs = tenant.spans, tenant.logs
    with (folder / "traces.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trace_id", "span_id", "parent_span_id", "service", "operation", "start_unix_nano",
                         "end_unix_nano"])
        writer.writerows(zip(spans.trace_id, spans.span_id, spans.parent_span_id, spans.service, spans.operation,
                             spans.start_unix_nano, spans.end_unix_nano, strict=True))
    with (folder / "logs.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp_unix_nano", "service", "trace_id", "span_id", "severity", "body"])
        writer.writerows(zip(logs.timestamp_unix_nano, logs.service, logs.trace_id, logs.span_id, logs.severity,
                             logs.body, strict=True))
    (folder / "case.json").write_text(json.dumps({"anomaly_start": tenant.start}))


def test_rca_reads_traces_and_logs_and_reports_per_system_with_metrics_only_beside(tmp_path: Path) -> None:
    from aiops.bench.traced_tenant import traced_tenant

    cases, labels = tmp_path / "cases", {}
    for system in ("aa", "bb"):
        for index, kind in enumerate(("slow", "exception", "network")):
            tenant = traced_tenant(7, fault=kind, faulty=3 + index, minutes=16, fault_minute=11, seed=index,
                                   requests_per_minute=20)
            name = f"sim-{system}-2026-01-01-10-{index}-{kind}"
            write_traced_case(cases / name, tenant)
            labels[name] = tenant.root_cause
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    out = tmp_path / "rankings.json"
    done = run("eval", "rca", "--cases", str(cases), "--output", str(out), "--labels", str(tmp_path / "labels.json"),
               "--model", "multimodal", "--cross-validate")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    overall = next(x for x in lines if x.startswith("multimodal on 6 cases"))
    assert "AC@1 1.00" in overall and "| metrics only: AC@1" in overall
    assert any(x.strip().startswith("sim-aa, 3 cases: AC@1 1.00") for x in lines)
    assert any(x.strip().startswith("all exception, 2 cases") for x in lines)
    assert any("tuned on sim-aa" in x and "-> sim-bb" in x for x in lines)
    assert "Warning" not in done.stderr and "Warning" not in done.stdout
    rankings = json.loads(out.read_text())
    assert all(rankings[c]["ranking"][0]["service_id"] == labels[c] for c in labels)

    metrics_only = run("eval", "rca", "--cases", str(cases), "--output", str(out), "--labels",
                       str(tmp_path / "labels.json"), "--model", "multimodal", "--modalities", "metric")
    assert metrics_only.returncode == 0, metrics_only.stderr
    assert "AC@1 1.00" not in next(x for x in metrics_only.stdout.splitlines() if "Avg@5" in x)
    bad = run("eval", "rca", "--cases", str(cases), "--output", str(out), "--modalities", "metric,video")
    assert bad.returncode == 2 and "unknown video" in bad.stderr


def test_rca_on_empty_series_and_readings_at_the_float_limit(tmp_path: Path) -> None:
    from tests.aiops.rca.synthetic import fault

    data = {k: v.astype(float) for k, v in fault(fault_at=90).items()}
    data[("cache", "cpu")][90:] = 1e308  # the real root cause here, read at the float limit
    data[("queue", "depth")][:] = np.nan  # a series with no value at all
    write_case(tmp_path / "cases" / "edge", data, 1_700_000_000, 90)
    (tmp_path / "labels.json").write_text(json.dumps({"edge": "cache"}))
    done = run("eval", "rca", "--cases", str(tmp_path / "cases"), "--output", str(tmp_path / "o.json"),
               "--labels", str(tmp_path / "labels.json"), "--model", "baro")
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr and done.stderr.strip() == ""
    first = json.loads((tmp_path / "o.json").read_text())["edge"]["ranking"][0]
    assert first["service_id"] == "cache" and first["score"] > 0


SOCKSHOP = Path(__file__).resolve().parents[3] / "shared" / "data" / "rca"


@pytest.mark.skipif(not (SOCKSHOP / "sockshop").is_dir(), reason="the sock-shop cases live in ../shared/data")
def test_sockshop_meets_the_bar(tmp_path: Path) -> None:
    done = run("eval", "rca", "--cases", str(SOCKSHOP / "sockshop"), "--output", str(tmp_path / "r.json"),
               "--labels", str(SOCKSHOP / "sockshop.labels.json"))
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if "Avg@5" in x)
    ac1 = float(line.split("AC@1")[1].split()[0])
    avg5 = float(line.split("Avg@5")[1].split()[0])
    assert ac1 >= 0.80 and avg5 >= 0.95, line


@pytest.mark.skipif(not (SOCKSHOP / "nezha").is_dir(), reason="the Nezha cases live in ../shared/data")
def test_nezha_with_traces_and_logs_beats_metrics_alone(tmp_path: Path) -> None:
    done = run("eval", "rca", "--cases", str(SOCKSHOP / "nezha"), "--output", str(tmp_path / "r.json"),
               "--labels", str(SOCKSHOP / "nezha.labels.json"), "--model", "multimodal")
    assert done.returncode == 0, done.stderr

    def avg5(prefix: str) -> tuple[float, float]:
        line = next(x for x in done.stdout.splitlines() if x.strip().startswith(prefix))
        both, alone = line.split("| metrics only:")
        return float(both.split("Avg@5")[1].split()[0]), float(alone.split("Avg@5")[1].split()[0])

    boutique, overall = avg5("nezha-ob,"), avg5("multimodal on 52 cases")
    assert boutique[0] >= 0.80 and overall[0] > overall[1] + 0.1, done.stdout
