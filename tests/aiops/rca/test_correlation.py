"""Lagged correlation, graph learning and traversal on planted structures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aiops.rca.correlation import lagged_correlation
from aiops.rca.frame import MetricFrame
from aiops.rca.graph import DECLARED, LEARNED, Edge, ServiceGraph, learn_edges, prune_indirect
from tests.aiops.rca.synthetic import chain, frame_of


def test_lags_and_signs_are_recovered() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=200)
    x = np.vstack([base[10:110], base[7:107], -base[10:110], rng.normal(size=100)])  # row 1 lags row 0 by 3
    result = lagged_correlation(x, max_lag=10)
    assert result.lag[0, 1] == 3 and result.lag[1, 0] == -3
    assert result.score[0, 1] > 0.95
    assert result.score[0, 2] < -0.95 and result.lag[0, 2] == 0  # anti-correlated, same time
    assert abs(result.score[0, 3]) < 0.5


def test_gaps_and_constant_series() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(size=120)
    x = np.vstack([base[5:105], base[3:103], np.full(100, 7.0)])
    x[1, 20:30] = np.nan  # a gap: neither hides nor creates correlation
    result = lagged_correlation(x, max_lag=5)
    assert result.lag[0, 1] == 2 and result.score[0, 1] > 0.95
    assert result.score[0, 2] == 0 and result.score[2, 1] == 0  # a constant series relates to nothing


def test_cpu_and_explicit_device_agree() -> None:
    x = np.random.default_rng(3).normal(size=(20, 60))
    on_cpu = lagged_correlation(x, 10, device=torch.device("cpu"))
    default = lagged_correlation(x, 10)
    assert np.allclose(on_cpu.score, default.score, atol=1e-4) and np.array_equal(on_cpu.lag, default.lag)


def test_chunks_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(4).normal(size=(30, 40))
    whole = lagged_correlation(x, 5)
    monkeypatch.setattr("aiops.rca.correlation.CHUNK_ELEMENTS", 100)  # one row per chunk
    chunked = lagged_correlation(x, 5)
    assert np.allclose(whole.score, chunked.score, atol=1e-5) and np.array_equal(whole.lag, chunked.lag)


def test_a_planted_chain_gives_lags_directions_and_depth() -> None:
    frame = frame_of(chain(lag=2))
    edges = learn_edges(frame, max_lag_minutes=10, min_correlation=0.6)
    pairs = {(e.source, e.target): e.lag_minutes for e in edges}
    assert pairs == {("a", "b"): 2, ("b", "c"): 2}  # a-c is explained by a-b-c and pruned; d is unrelated
    graph = ServiceGraph(edges, set(frame.services))
    one = graph.related("a", 1)
    assert [(r.service_id, r.lag_minutes, r.direction, r.depth) for r in one] == [("b", 2, "downstream", 1)]
    two = {r.service_id: (r.lag_minutes, r.direction, r.depth) for r in graph.related("a", 2)}
    assert two == {"b": (2, "downstream", 1), "c": (4, "downstream", 2)}
    back = {r.service_id: (r.lag_minutes, r.direction) for r in graph.related("c", 3)}
    assert back == {"b": (-2, "upstream"), "a": (-4, "upstream")}
    assert graph.related("d", 3) == [] and graph.related("unknown", 3) == []


def test_pruning_keeps_an_edge_the_other_two_do_not_explain() -> None:
    edges = [Edge("a", "b", LEARNED, 0.9, 2), Edge("b", "c", LEARNED, 0.9, 2), Edge("a", "c", LEARNED, 0.8, 1)]
    assert len(prune_indirect(edges)) == 3  # lags do not add up: a-c is not the indirect path
    edges[2] = Edge("a", "c", LEARNED, 0.8, 4)
    assert {(e.source, e.target) for e in prune_indirect(edges)} == {("a", "b"), ("b", "c")}


def test_declared_calls_propagate_from_callee_to_caller() -> None:
    graph = ServiceGraph([Edge("web", "api", DECLARED, 1.0, 0), Edge("api", "db", DECLARED, 1.0, 0)])
    blast = {r.service_id: r.depth for r in graph.related("db", 3, downstream_only=True)}
    assert blast == {"api": 1, "web": 2}
    assert graph.related("web", 3, downstream_only=True) == []


def test_frames_average_points_sharing_a_step() -> None:
    frame = MetricFrame.from_long(np.array([0.0, 10.0, 60.0, 120.0]), ["s"] * 4, ["m"] * 4,
                                  np.array([1.0, 3.0, 5.0, 7.0]), step=60)
    assert frame.columns == [("s", "m")] and frame.values.tolist() == [[2.0, 5.0, 7.0]]
