"""Trace evidence: how each service's own spans changed after the start, against the window's normal part.

Spans are split at the anomaly start by the start of their *trace* (a request that began
before the fault is normal behaviour even if it ended after). What a service is blamed for
is what it did itself, so the measures are built not to pass a callee's trouble on to its
callers (the propagation along the observed call graph that MicroRank and TraceRCA model
with spectrum scores and PageRank, done here by construction):

- ``span_self_time``: a span's own time is its duration less the time covered by its
  children, so a caller waiting on a slow callee does not grow; per service and operation
  the shift of the median own time (log ratio after/before), the service's worst operation;
  its strength is the share of that operation's own time after the start that is new
  (``1 - before/after``: 0.5 for a doubling, 0.9 for ten times).
- ``call_latency``: the own time of a *client* span (a call into another service: OTLP
  ``SPAN_KIND_CLIENT``, or, without kinds, a span whose children run in another service) is
  the network and queueing between caller and callee; its shift counts for the callee,
  averaged over its callers (log ratios, so the strength is that of their geometric mean),
  so a service whose every caller waits longer (a network delay on it) stands out, while one
  slow edge does not blame the caller.
- ``missing_calls``: per operation, the calls it normally makes (child spans per span of
  that operation before the start) against those it made after: calls that stop (an
  exception thrown before them, a wrong return value that changes the path) count for the
  service whose operation changed, as the share of its due calls that did not come, weighted
  by how unlikely the shortfall is by chance (:func:`missing_share`).
- ``errors``: spans with error status whose children are not in error (the origin of an
  error, not the callers it travels through), per service, against the normal error rate:
  the error spans that were not due (:func:`~models.rankers.signals.base.novel_count`) as a
  saturating strength. Only when the spans carry a status (OTLP does; Nezha's traces do not).

Nezha (Yu et al., FSE 2023) compares the event patterns of the fault-free and the faulty
phase (span and log events in trace order) and blames the pattern that disappears; the
``missing_*`` measures here and ``missing_logs`` in :mod:`models.rankers.signals.logs` are
that idea as rates per operation. Everything is grouped on integer codes (operation,
service), so a window of tens of thousands of spans takes a fraction of a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaincc

from models.rankers.base import TRACE, Evidence
from models.rankers.signals.base import Signal, count_surprise, novel_count, saturating
from models.telemetry import SpanTable
from models.telemetry.spans import KIND_CLIENT, STATUS_ERROR

NS = 1e9
MS = 1e6


def joined(*columns: np.ndarray) -> pd.Index:
    """One string per row, the columns joined by a separator no id contains (a hashable row key)."""
    text = pd.Series(columns[0], dtype=object)
    for column in columns[1:]:
        text = text + "\x1f" + pd.Series(column, dtype=object)
    return pd.Index(text)


class SpanFrame:
    """The window's spans with their structure, as arrays (one entry per span, duplicates dropped).

    ``op`` codes the operation key (service and span name), ``svc`` the service; ``ops`` and
    ``services`` decode them, ``op_service`` maps an operation to its service code.
    ``parent`` is the parent's row (-1 for roots and orphans), ``own_ms`` the span's own
    time, ``client`` marks calls into another service and ``callee`` the service called
    (-1 when none), ``after`` whether its trace began at or after the start.
    """

    def __init__(self, spans: SpanTable, start: float) -> None:
        rows = joined(spans.trace_id, spans.span_id)
        keep = ~rows.duplicated()
        self.rows = rows[keep]
        trace = spans.trace_id[keep]
        service = spans.service[keep]
        op_codes, op_names = pd.factorize(joined(service, spans.operation[keep]))
        self.op = op_codes.astype(np.int64)
        svc_codes, services = pd.factorize(pd.Index(service))
        self.svc = svc_codes.astype(np.int64)
        self.services = np.asarray(services, dtype=object)
        self.ops = np.asarray(op_names, dtype=object)
        self.op_service = np.zeros(len(self.ops), dtype=np.int64)
        self.op_service[self.op] = self.svc
        self.op_operation = np.array([name.split("\x1f", 1)[1] for name in self.ops], dtype=object)
        self.start = spans.start_unix_nano[keep] / NS
        self.duration_ms = np.clip(spans.end_unix_nano[keep] - spans.start_unix_nano[keep], 0, None) / MS
        self.parent = self.rows.get_indexer(joined(trace, spans.parent_span_id[keep])).astype(np.int64)
        n = len(self.rows)
        has_parent = self.parent >= 0
        covered = np.bincount(self.parent[has_parent], weights=self.duration_ms[has_parent], minlength=n)
        # Children may overlap (parallel calls): their summed time is capped at the parent's.
        self.own_ms = self.duration_ms - np.minimum(covered, self.duration_ms)
        crossing = has_parent & (self.svc[np.where(has_parent, self.parent, 0)] != self.svc)
        self.callee = np.full(n, -1, dtype=np.int64)
        self.callee[self.parent[crossing]] = self.svc[crossing]
        if spans.kind is not None:
            kinds = spans.kind[keep]
            self.client = (kinds == KIND_CLIENT) | ((kinds == 0) & (self.callee >= 0))
        else:
            self.client = self.callee >= 0
        self.error = spans.status_code[keep] == STATUS_ERROR if spans.status_code is not None else np.zeros(n, bool)
        trace_codes = pd.factorize(pd.Index(trace))[0]
        first = np.full(trace_codes.max() + 1 if n else 0, np.inf)
        np.minimum.at(first, trace_codes, self.start)
        self.after = first[trace_codes] >= start if n else np.zeros(0, bool)

    def __len__(self) -> int:
        return len(self.rows)


def _shift(groups: np.ndarray, after: np.ndarray, values: np.ndarray, min_before: int,
           min_after: int) -> pd.DataFrame:
    """Per group code: median before and after, robust z of the after median, log ratio of medians."""
    table = pd.DataFrame({"group": groups, "after": after, "value": values})
    stats = table.groupby(["group", "after"]).value.agg(["median", "size"]).unstack("after")
    stats.columns = [f"{a}_{b}" for a, b in stats.columns]
    for column in ("median_False", "median_True", "size_False", "size_True"):
        if column not in stats:
            stats[column] = np.nan if column.startswith("median") else 0
    before = table[~table.after]
    centre = stats.median_False.reindex(before.group).to_numpy()
    mad = pd.Series(np.abs(before.value.to_numpy() - centre)).groupby(before.group.to_numpy()).median()
    stats["mad"] = mad.reindex(stats.index).fillna(0.0)
    stats = stats[(stats.size_False >= min_before) & (stats.size_True >= min_after)].copy()
    b, a = stats.median_False, stats.median_True
    floor = 0.05 * b + 0.01  # ms: spans of a few microseconds jitter by their own size
    stats["z"] = (a - b) / (1.4826 * stats.mad + floor)
    stats["log_ratio"] = np.log((a + floor) / (b + floor))
    return stats


def _first_after(frame: SpanFrame, groups: np.ndarray) -> pd.Series:
    """Per group code, when its first span after the start began (unix seconds)."""
    mask = frame.after
    return pd.Series(frame.start[mask]).groupby(groups[mask]).min()


def self_time_signal(frame: SpanFrame, *, min_before: int = 3, min_after: int = 2, evidence: int = 3) -> Signal:
    signal = Signal("trace.span_self_time", TRACE, {})
    own = ~frame.client
    stats = _shift(frame.op[own], frame.after[own], frame.own_ms[own], min_before, min_after)
    stats = stats[stats.log_ratio > 0]
    if stats.empty:
        return signal
    first = _first_after(frame, frame.op)
    stats["service"] = frame.op_service[stats.index.to_numpy()]
    for code, rows in stats.sort_values("log_ratio", ascending=False).groupby("service", sort=False):
        service = str(frame.services[code])
        signal.score[service] = float(-np.expm1(-rows.log_ratio.iloc[0]))  # share of the time that is new
        signal.evidence[service] = [
            Evidence("span_self_time", round(float(r.z), 3), float(first.get(op, np.nan)), TRACE,
                     operation=str(frame.op_operation[op]), observed=round(float(r.median_True), 3),
                     expected=round(float(r.median_False), 3))
            for op, r in rows.head(evidence).iterrows()]
    return signal


def call_latency_signal(frame: SpanFrame, *, min_before: int = 3, min_after: int = 2, evidence: int = 3) -> Signal:
    signal = Signal("trace.call_latency", TRACE, {})
    calls = frame.client & (frame.callee >= 0)
    if not calls.any():
        return signal
    width = len(frame.services)
    edge = frame.svc * width + frame.callee  # (caller, callee) as one code
    stats = _shift(edge[calls], frame.after[calls], frame.own_ms[calls], min_before, min_after)
    if stats.empty:
        return signal
    first = _first_after(frame, edge)
    stats["caller"] = stats.index.to_numpy() // width
    stats["callee"] = stats.index.to_numpy() % width
    for code, rows in stats.groupby("callee"):
        mean = float(rows.log_ratio.mean())
        if mean <= 0:
            continue
        callee = str(frame.services[code])
        signal.score[callee] = float(-np.expm1(-mean))  # share of the (geometric mean) wait that is new
        signal.evidence[callee] = [
            Evidence("call_latency", round(float(r.z), 3), float(first.get(e, np.nan)), TRACE,
                     calls=f"{frame.services[int(r.caller)]} -> {callee}", observed=round(float(r.median_True), 3),
                     expected=round(float(r.median_False), 3))
            for e, r in rows.sort_values("log_ratio", ascending=False).head(evidence).iterrows()]
    return signal


def expected_events(frame: SpanFrame, rows: np.ndarray, events: np.ndarray, *, min_before: int = 2) -> pd.DataFrame:
    """Per (operation code, event code): count before, count after, and the count due after.

    ``rows[i]`` is the span event ``i`` happened in, ``events[i]`` its code. The rate is
    events per span of that operation before the start; what is due after is that rate times
    the operation's spans after the start. Only operations seen at least ``min_before``
    times before and once after are judged. Columns ``before, after, due, op, event, service``.
    """
    n_ops = len(frame.ops)
    spans_after = np.bincount(frame.op[frame.after], minlength=n_ops)
    spans_before = np.bincount(frame.op[~frame.after], minlength=n_ops)
    table = pd.DataFrame({"op": frame.op[rows], "event": events, "after": frame.after[rows]})
    counts = table.groupby(["op", "event", "after"]).size().unstack("after").reindex(
        columns=[False, True], fill_value=0).fillna(0)
    counts.columns = ["before", "after"]
    counts = counts.reset_index()
    n_before, n_after = spans_before[counts.op], spans_after[counts.op]
    counts["due"] = counts.before / np.maximum(n_before, 1) * n_after
    counts["service"] = frame.op_service[counts.op]
    return counts[(n_before >= min_before) & (n_after >= 1)]


FULL_WEIGHT_P = 0.01  # a shortfall this unlikely under the normal rates counts in full (see missing_share)


def missing_share(counts: pd.DataFrame, pseudo: float) -> pd.Series:
    """Per service code: the share of due events that did not come, ``sum(missing) / (sum(due) + pseudo)``,
    weighted by how unlikely the service's shortfall is by chance.

    The weight is ``-log10(p) / -log10(FULL_WEIGHT_P)``, at most 1, where ``p`` is the Poisson
    probability of seeing at most the events that came when the normal rates predicted the
    due ones (all of the service's operations and events together). With one request in ten
    sampled a window may hold a handful of spans after the start, where a third of the due
    lines missing is ordinary variation (p ~ 0.1, weight 0.5), while an operation that
    stopped writing all of its seven usual lines is not (p ~ 0.001, full weight). On Nezha's
    cases the weight raised Train Ticket's Avg@5 from 0.486 to 0.557 (full weight at p of
    0.1 to 1e-6: 0.514-0.557) and left Online Boutique's unchanged.
    """
    missing = (counts.due - counts.after).clip(lower=0)
    grouped = pd.DataFrame({"missing": missing, "due": counts.due, "after": counts.after,
                            "service": counts.service}).groupby("service")
    due, came = grouped.due.sum(), grouped.after.sum()
    p = gammaincc(came.to_numpy() + 1.0, np.maximum(due.to_numpy(), 1e-9))  # Poisson P(X <= came | due)
    weight = np.clip(np.log10(np.maximum(p, 1e-300)) / np.log10(FULL_WEIGHT_P), 0.0, 1.0)
    return grouped.missing.sum() / (due + pseudo) * weight


def missing_events_signal(name: str, kind: str, frame: SpanFrame, counts: pd.DataFrame, describe, *,
                          pseudo: float = 5.0, evidence: int = 3) -> Signal:
    """Shared by ``missing_calls`` and ``missing_logs``: ``describe(op, event, row)`` gives an Evidence."""
    signal = Signal(name, kind, {})
    if counts.empty:
        return signal
    share = missing_share(counts, pseudo)
    gone = counts.assign(missing=(counts.due - counts.after).clip(lower=0))
    gone = gone[gone.missing > 0].sort_values("missing", ascending=False)
    for code, value in share.items():
        if value <= 0:
            continue
        service = str(frame.services[code])
        signal.score[service] = float(value)
        signal.evidence[service] = [describe(int(r.op), int(r.event), r)
                                    for r in gone[gone.service == code].head(evidence).itertuples()]
    return signal


def missing_calls_signal(frame: SpanFrame, *, evidence: int = 3) -> Signal:
    children = np.flatnonzero(frame.parent >= 0)
    counts = expected_events(frame, frame.parent[children], frame.op[children])
    first = _first_after(frame, frame.op)

    def describe(op: int, event: int, r) -> Evidence:
        callee = frame.ops[event].split("\x1f", 1)
        return Evidence("missing_calls", round(float(count_surprise([r.after], [r.due])[0]), 3),
                        float(first.get(op, np.nan)), TRACE, operation=str(frame.op_operation[op]),
                        calls=f"{frame.services[frame.op_service[op]]} -> {callee[0]}: {callee[1]}",
                        observed=float(r.after), expected=round(float(r.due), 3))

    return missing_events_signal("trace.missing_calls", TRACE, frame, counts, describe, evidence=evidence)


def error_signal(frame: SpanFrame, *, evidence: int = 3) -> Signal:
    """Error-status spans that originate the error (no erroring child), per service, against the normal rate."""
    signal = Signal("trace.errors", TRACE, {})
    if not frame.error.any():
        return signal
    errored_child = np.zeros(len(frame), dtype=bool)
    failing = frame.error & (frame.parent >= 0)
    errored_child[frame.parent[failing]] = True
    origin = frame.error & ~errored_child
    table = pd.DataFrame({"op": frame.op, "after": frame.after, "origin": origin})
    per = table.groupby(["op", "after"]).origin.agg(["sum", "size"]).unstack("after").fillna(0)
    per.columns = [f"{a}_{b}" for a, b in per.columns]
    for column in ("sum_False", "sum_True", "size_False", "size_True"):
        if column not in per:
            per[column] = 0.0
    per["due"] = per.sum_False / np.maximum(per.size_False, 1) * per.size_True
    per["surprise"] = count_surprise(per.sum_True, per.due)
    per["novel"] = novel_count(per.sum_True, per.due)
    per["service"] = frame.op_service[per.index.to_numpy()]
    first = pd.Series(frame.start[frame.after & origin]).groupby(frame.op[frame.after & origin]).min()
    positive = per[per.surprise > 0].sort_values("surprise", ascending=False)
    for code, group in positive.groupby("service", sort=False):
        service = str(frame.services[code])
        signal.score[service] = float(saturating(group.novel.sum()))
        signal.evidence[service] = [
            Evidence("error_spans", round(float(r.surprise), 3), float(first.get(op, np.nan)), TRACE,
                     operation=str(frame.op_operation[op]), observed=float(r.sum_True), expected=round(float(r.due), 3))
            for op, r in group.head(evidence).iterrows()]
    return signal


def trace_signals(spans: SpanTable, start: float, *, min_before: int = 3, min_after: int = 2,
                  evidence: int = 3) -> tuple[list[Signal], SpanFrame | None]:
    """Every trace signal of the window, and the span frame (the log signals tie records to it).

    Returns no signals when no trace began after ``start``, or none before it (nothing to compare).
    """
    if spans is None or len(spans) == 0:
        return [], None
    frame = SpanFrame(spans, start)
    if not frame.after.any() or frame.after.all():
        return [], frame
    signals = [self_time_signal(frame, min_before=min_before, min_after=min_after, evidence=evidence),
               call_latency_signal(frame, min_before=min_before, min_after=min_after, evidence=evidence),
               missing_calls_signal(frame, evidence=evidence),
               error_signal(frame, evidence=evidence)]
    return [s for s in signals if s.score], frame
