"""The plain telemetry types: columns checked, windows cut, averages that stay finite."""

from __future__ import annotations

import numpy as np
import pytest

from models.telemetry import LogTable, MetricFrame, SpanTable
from models.telemetry.logs import severity_name


def spans() -> SpanTable:
    return SpanTable.from_columns(trace_id=["t1", "t1", "t2"], span_id=["a", "b", "c"], parent_span_id=["", "a", None],
                                  service=["web", "db", "web"], operation=["GET /", "query", "GET /"],
                                  start_unix_nano=[0, 10, 100], end_unix_nano=[50, 40, 150])


def test_span_columns_are_typed_and_missing_parents_are_roots() -> None:
    table = spans()
    assert len(table) == 3 and table.services == ["db", "web"]
    assert table.parent_span_id.tolist() == ["", "a", ""]
    assert table.start_unix_nano.dtype == np.int64 and table.status_code is None
    assert table.between(0, 100).span_id.tolist() == ["a", "b"]
    assert len(SpanTable.empty()) == 0


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="span column span_id has 1 rows"):
        SpanTable.from_columns(trace_id=["t1", "t2"], span_id=["a"], parent_span_id=["", ""], service=["x", "y"],
                               operation=["o", "o"], start_unix_nano=[0, 1], end_unix_nano=[1, 2])
    with pytest.raises(ValueError, match="log column"):
        LogTable(np.zeros(2, dtype=np.int64), np.array(["a"], dtype=object), np.array(["", ""], dtype=object),
                 np.array(["", ""], dtype=object), np.array(["", ""], dtype=object), np.array(["", ""], dtype=object))


def test_log_severity_is_normalised_and_problems_found() -> None:
    logs = LogTable.from_columns(timestamp_unix_nano=[1, 2, 3, 4], service=["a"] * 4, trace_id=["", "t", "", ""],
                                 span_id=["", "s", "", ""], severity=["info", "Warning", "ERROR", None],
                                 body=["ok", "slow", "boom", "?"])
    assert logs.severity.tolist() == ["INFO", "WARNING", "ERROR", ""]
    assert logs.is_problem().tolist() == [False, True, True, False]
    assert logs.between(2, 4).body.tolist() == ["slow", "boom"]
    assert [severity_name(n) for n in (0, 1, 9, 13, 17, 24, 25)] == ["", "TRACE", "INFO", "WARN", "ERROR", "FATAL", ""]


def test_averages_of_readings_at_the_float_limit_stay_finite() -> None:
    # Two readings of 1e308 in one minute: summing first would overflow to inf.
    frame = MetricFrame.from_long(np.array([0.0, 10.0, 60.0, 60.0]), ["a", "a", "a", "a"], ["m"] * 4,
                                  np.array([1e308, 1e308, np.inf, 5.0]), step=60)
    assert frame.values.tolist() == [[1e308, 5.0]]
    assert np.isfinite(frame.values).all()
