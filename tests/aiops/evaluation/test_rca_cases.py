"""Reading offline cases with traces and logs, report groups, and cross-validation's choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiops.bench.traced_tenant import traced_tenant
from aiops.evaluation.rca import (
    DEFAULT_GROUPS,
    by_group,
    case_evidence,
    choose,
    cross_validate,
    fused_rankings,
    group_of,
    read_case,
    read_logs,
    read_spans,
    weight_grid,
)
from models.registry import build


def test_traces_and_logs_csv_become_span_and_log_tables(tmp_path: Path) -> None:
    (tmp_path / "traces.csv").write_text(
        "trace_id,span_id,parent_span_id,service,operation,start_unix_nano,end_unix_nano,status_code\n"
        "t1,a,,web,GET /,100,900,0\nt1,b,a,db,query,200,300,2\nt1,c,a,db,query,bad,300,0\n")
    spans = read_spans(tmp_path / "traces.csv")
    assert spans.span_id.tolist() == ["a", "b"]  # a row without a time is left out
    assert spans.parent_span_id.tolist() == ["", "a"] and spans.status_code.tolist() == [0, 2]
    (tmp_path / "logs.csv").write_text("timestamp_unix_nano,service,trace_id,span_id,severity,body\n"
                                       '150,web,t1,a,warn,"slow, very slow"\n160,db,,,,startup\n')
    logs = read_logs(tmp_path / "logs.csv")
    assert logs.body.tolist() == ["slow, very slow", "startup"] and logs.severity.tolist() == ["WARN", ""]
    assert logs.trace_id.tolist() == ["t1", ""]
    (tmp_path / "traces.csv").write_text("trace_id,span_id,service\nt,a,web\n")
    with pytest.raises(ValueError, match="lacks columns"):
        read_spans(tmp_path / "traces.csv")


def test_a_case_without_traces_or_logs_reads_as_metrics_only(tmp_path: Path) -> None:
    (tmp_path / "metrics.csv").write_text("timestamp,service,metric,value\n0,a,cpu,1\n60,a,cpu,2\n")
    (tmp_path / "case.json").write_text(json.dumps({"anomaly_start": 60}))
    case = read_case(tmp_path)
    assert case.spans is None and case.logs is None and case.frame.services == ["a"]


def test_groups_come_from_case_names_only_for_reports() -> None:
    name = "nezha-tt-2023-01-29-10-4-exception"
    assert group_of(name, DEFAULT_GROUPS, "system") == "nezha-tt"
    assert group_of(name, DEFAULT_GROUPS, "fault") == "exception"
    assert group_of("sockshop-carts-cpu-1", DEFAULT_GROUPS, "system") is None
    assert by_group({name: "x", "other": "y"}, DEFAULT_GROUPS, "fault") == {"exception": {name: "x"}}


def cached(system: str, kinds: tuple[str, ...]):
    from aiops.evaluation.rca import Case

    cases, labels = [], {}
    for index, kind in enumerate(kinds):
        tenant = traced_tenant(6, fault=kind, faulty=2 + index, minutes=14, fault_minute=10, seed=index,
                               requests_per_minute=15)
        name = f"sim-{system}-2026-01-01-10-{index}-{kind}"
        cases.append(Case(name, tenant.frame, tenant.start, tenant.spans, tenant.logs))
        labels[name] = tenant.root_cause
    return case_evidence(cases, build("ranker", "multimodal")), labels


def test_cross_validation_tunes_on_one_system_and_scores_the_other() -> None:
    first, first_labels = cached("aa", ("slow", "network"))
    second, second_labels = cached("bb", ("exception", "slow"))
    labels = {**first_labels, **second_labels}
    groups = by_group(labels, DEFAULT_GROUPS, "system")
    folds = cross_validate(first + second, labels, groups, "multimodal", {})
    assert [(f.tuned_on, f.scored_on) for f in folds] == [("sim-aa", "sim-bb"), ("sim-bb", "sim-aa")]
    for fold in folds:
        assert set(fold.rankings) == set(groups[fold.scored_on])  # scored only on the other system
        assert fold.chosen in weight_grid()
    # Among settings that score alike, the one nearest the defaults is chosen.
    chosen, scored = choose(first, first_labels, "multimodal", {}, weight_grid())
    assert scored.avg5 == 1.0 and chosen == {"trace_weight": 0.25, "log_weight": 1.0}  # the configured ones
    rankings = fused_rankings(first, "multimodal", {}, ("metric",))
    assert set(rankings) == set(first_labels)
