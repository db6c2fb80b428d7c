"""RCA evidence as stored and answered: the reference's fields always, ``kind`` and the trace/log fields added."""

from __future__ import annotations

import math

from aiops.bench.traced_tenant import traced_tenant
from aiops.rca.analysis import analyse
from aiops.rca.runner import causes_json
from aiops.rca.summary import describe, template_summary
from aiops.schemas.rca import RcaEvidence, RootCause
from models.rankers.base import Evidence, RankedCause
from models.registry import build


def test_stored_evidence_validates_old_and_new_items() -> None:
    old = RcaEvidence.model_validate({"metric_name": "cpu", "z_score": 6.1, "at": "2026-01-01T00:00:00Z"})
    assert old.kind == "metric" and old.operation is None
    new = RcaEvidence.model_validate({"metric_name": "missing_logs", "z_score": -12.0, "at": "2026-01-01T00:00:00Z",
                                      "kind": "log", "operation": "GET /cart", "template": "cart <NUM> loaded",
                                      "observed": 0, "expected": 12.5})
    assert new.kind == "log" and new.expected == 12.5


def test_an_analysis_with_spans_answers_evidence_of_every_kind_it_used() -> None:
    tenant = traced_tenant(8, fault="exception", faulty=4, seed=5)
    result = analyse(tenant.frame, tenant.start, build("ranker", "multimodal"), spans=tenant.spans, logs=tenant.logs)
    causes = causes_json(result.ranking, start=tenant.start)
    top = RootCause.model_validate(causes[0])
    assert top.service_id == "svc-04" and {e.kind for e in top.evidence} >= {"log"}
    for item in causes[0]["evidence"]:
        assert {"metric_name", "z_score", "at", "kind"} <= set(item)
        assert all(value is not None for value in item.values())  # fields that do not apply are left out
    logged = next(e for e in top.evidence if e.metric_name == "error_logs")
    assert "IllegalStateException" in logged.template
    summary = template_summary("svc-00", "latency", result.ranking, [], [])
    assert "svc-04" in summary and "IllegalStateException" in summary


def test_evidence_without_a_time_of_its_own_is_dated_at_the_start() -> None:
    cause = RankedCause("db", 1.0, [Evidence("span_self_time", 5.0, math.nan, "trace", operation="query",
                                             observed=40.0, expected=4.0)])
    item = causes_json([cause], start=1_700_000_000.0)[0]["evidence"][0]
    assert item["at"] == "2023-11-14T22:13:20Z" and item["operation"] == "query"
    assert describe(cause.evidence[0]) == "its query spans took 40 ms of their own (normally 4)"
