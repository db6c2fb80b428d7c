"""Metric evidence by kind: how far each service's own metrics moved, kind by kind.

A service's metrics are not equally telling. Its *client* latency (time waiting on the
services it calls) rises when a callee is slow, so it is a symptom of someone else and is
left out of the service's own evidence; its server latency, error or success rate, CPU,
memory, network, I/O and workload are its own. Kinds are told apart by the metric's name
(:func:`metric_kind`, the conventions of Prometheus exporters, OpenTelemetry semantic
conventions and the benchmarks' exporters). Moves count in the harmful direction only where
the kind has one (latency and errors up, success rate down).

Each metric is standardised against its own past before the start (median and IQR, as
BARO does, with a scale floor of ``relative_floor`` times its level: with a few minutes of
history the IQR of three points is no scale at all). Then, per kind, services are ranked by
their strongest move, and a service's score is the mean over its kinds of ``1 / rank`` (among
the services that moved at least ``min_z``): a service that leads in CPU and in latency beats
one that leads in one kind only, a kind with huge values (latency spikes in the thousands of
sigmas) cannot drown the others, and a service exporting more kinds of metric gains no
votes for it (the mean, not the sum).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from models.rankers.base import METRIC, Evidence, deviation
from models.rankers.signals.base import Signal
from models.telemetry import MetricFrame

CLIENT_LATENCY = "client_latency"
LATENCY = "latency"
ERRORS = "errors"
SUCCESS = "success"
CPU = "cpu"
MEMORY = "memory"
NETWORK = "network"
IO = "io"
WORKLOAD = "workload"
OTHER = "other"

_RULES = [  # first match wins; matched against the lower-cased metric name
    (CLIENT_LATENCY, re.compile(r"client.*(latency|duration|time|_seconds|\(s\))|(latency|duration).*client")),
    (SUCCESS, re.compile(r"success|availability|(^|[^a-z])ok([^a-z]|$)")),
    (ERRORS, re.compile(r"error|fail|fault|exception|5xx|timeout")),
    (LATENCY, re.compile(r"latency|duration|response.?time|_seconds|\(s\)|(^|[^a-z])p(50|90|95|99)([^0-9]|$)|lat_")),
    (CPU, re.compile(r"cpu")),
    (MEMORY, re.compile(r"mem|heap|rss|(^|[^a-z])gc([^a-z]|$)")),
    (NETWORK, re.compile(r"net|receive|transmit|bytes_(in|out|sent|recv)|packet|tcp|socket")),
    (IO, re.compile(r"syscall|disk|(^|[^a-z])io([^a-z]|$)|fs_|read|write")),
    (WORKLOAD, re.compile(r"workload|request|ops|qps|rps|throughput|load|lod|calls|count|rate")),
]
_UP_IS_BAD = {LATENCY, ERRORS}
_DOWN_IS_BAD = {SUCCESS}


def metric_kind(name: str) -> str:
    """What a metric measures, from its name (``PodServerLatencyP95(s)`` -> ``latency``)."""
    lowered = name.lower()
    for kind, pattern in _RULES:
        if pattern.search(lowered):
            return kind
    return OTHER


def harmful(z: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """|z| where the move goes the harmful way for its kind (any way for kinds without one)."""
    out = np.abs(z)
    out = np.where(np.isin(kinds, list(_UP_IS_BAD)), np.clip(z, 0, None), out)
    return np.where(np.isin(kinds, list(_DOWN_IS_BAD)), np.clip(-z, 0, None), out)


def metric_signal(frame: MetricFrame, start: float, *, relative_floor: float = 0.1, min_z: float = 0.0,
                  significant_z: float = 3.0, onset_z: float = 3.0, evidence: int = 3) -> Signal:
    """Score every service of ``frame`` by its kind-ranked own-metric moves after ``start``."""
    signal = Signal("metric.deviation", METRIC, {})
    if not frame.columns:
        return signal
    dev = deviation(frame, start, robust=True, relative_floor=relative_floor, onset_z=onset_z)
    services = np.array([s for s, _ in frame.columns], dtype=object)
    metrics = [m for _, m in frame.columns]
    kinds = np.array([metric_kind(m) for m in metrics], dtype=object)
    strength = harmful(dev.z, kinds)
    table = pd.DataFrame({"service": services, "kind": kinds, "strength": strength, "row": np.arange(len(metrics))})
    own = table[(table.kind != CLIENT_LATENCY) & (table.strength >= min_z)]
    per_kind = own.groupby(["kind", "service"]).strength.max()
    if len(per_kind) and (per_kind > 0).any():
        # A kind in which a service did not move at all ranks it last there (ties share the rank).
        rank = per_kind.groupby(level="kind").rank(ascending=False, method="min")
        score = (1.0 / rank).groupby(level="service").mean()
        signal.score = {str(s): float(v) for s, v in score.items()}
    moved = own[own.strength > 0]
    onset = pd.Series(dev.onset[moved.row.to_numpy()]).groupby(moved.service.to_numpy()).min()
    signal.onset = {str(s): float(v) for s, v in onset.items()}
    top = moved.sort_values("strength", ascending=False, kind="stable").groupby("service", sort=False).head(evidence)
    for service, r in zip(top.service.to_numpy(), top.row.to_numpy(), strict=True):
        signal.evidence.setdefault(str(service), []).append(
            Evidence(metrics[r], round(float(dev.z[r]), 3), float(dev.at[r]), METRIC))
    for service in set(services.tolist()):
        signal.score.setdefault(service, 0.0)
    if signal.score:
        # Ranks ignore size, so the leader's own strongest move says whether there is anything
        # at all: below ``significant_z`` sigmas it is noise (no vote), from twice that it is not.
        leader = max(signal.score, key=lambda s: (signal.score[s], s))
        strongest = float(np.max(strength[(services == leader) & (kinds != CLIENT_LATENCY)], initial=0.0))
        signal.confidence = float(np.clip(strongest / significant_z - 1.0, 0.0, 1.0))
    return signal
