"""RCAEval's AC@k and Avg@5 on small hand-made rankings."""

from __future__ import annotations

import pytest

from aiops.evaluation.rca import score


def ranking(*services: str) -> dict:
    return {"ranking": [{"service_id": s, "score": 1.0 / (i + 1)} for i, s in enumerate(services)]}


def test_ac_at_k_and_avg5() -> None:
    rankings = {
        "first": ranking("db", "api", "web"),
        "second": ranking("api", "db", "web"),
        "fourth": ranking("a", "b", "c", "db", "e"),
        "absent": ranking("a", "b"),
    }
    labels = {"first": "db", "second": "db", "fourth": "db", "absent": "db"}
    result = score(rankings, labels)
    assert result.ac == [0.25, 0.5, 0.5, 0.75, 0.75]
    assert result.avg5 == pytest.approx((0.25 + 0.5 + 0.5 + 0.75 + 0.75) / 5)
    assert result.misses == {"second": 2, "fourth": 4, "absent": 0}


def test_labels_for_unranked_cases_are_refused() -> None:
    with pytest.raises(ValueError, match="not ranked"):
        score({"a": ranking("x")}, {"a": "x", "b": "y"})
