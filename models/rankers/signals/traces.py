"""Trace evidence: how each service's own spans changed after the start, against the window's normal part.

Spans are split at the anomaly start by the start of their *trace* (a request that began
before the fault is normal behaviour even if it ended after). What a service is blamed for
is what it did itself, so the measures are built not to pass a callee's trouble on to its
callers (the propagation along the observed call graph that MicroRank and TraceRCA model
with spectrum scores and PageRank, done here by construction):

- ``span_self_time``: a span's own time is its duration less the time covered by its
  children, so a caller waiting on a slow callee does not grow; per service and operation
  the shift of the median own time (log ratio after/before), the service's worst operation.
- ``call_latency``: the own time of a *client* span (a call into another service: OTLP
  ``SPAN_KIND_CLIENT``, or, without kinds, a span whose children run in another service) is
  the network and queueing between caller and callee; its shift counts for the callee, averaged
  over its callers, so a service whose every caller waits longer (a network delay on it)
  stands out, while one slow edge does not blame the caller.
- ``missing_calls`` / ``new_calls``: per operation, the calls it normally makes (child spans
  per span of that operation before the start) and what it made after: calls that stop
  (an exception thrown before them, a wrong return value that changes the path) or appear.
  Counted for the service whose operation changed; a call that is expected to another
  service and no longer happens (nothing answers) also counts for the callee.
- ``errors``: spans with error status whose children are not in error (the origin of an
  error, not the callers it travels through), per service, against the normal error rate.
  Only when the spans carry a status (OTLP does; Nezha's traces do not).

Nezha (Yu et al., FSE 2023) compares the event patterns of the fault-free and the faulty
phase (span and log events in trace order) and blames the pattern that disappears; the
``missing_*`` measures here and ``missing_logs`` in :mod:`models.rankers.signals.logs` are
that idea as rates per operation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.rankers.base import TRACE, Evidence
from models.rankers.signals.base import Signal, count_surprise
from models.telemetry import SpanTable
from models.telemetry.spans import KIND_CLIENT, STATUS_ERROR

NS = 1e9
MS = 1e6


def span_frame(spans: SpanTable, start: float) -> pd.DataFrame:
    """One row per span with its structure: parent row, own time, client flag, callee, after-start flag.

    Columns: ``trace, service, operation, key`` (service|operation), ``start`` (unix s),
    ``duration_ms, own_ms, parent`` (row index, -1 for roots and orphans), ``parent_service,
    client, callee, after`` (its trace began at or after ``start``), ``error``.
    """
    frame = pd.DataFrame({"trace": spans.trace_id, "span": spans.span_id, "parent_span": spans.parent_span_id,
                          "service": spans.service, "operation": spans.operation,
                          "start_ns": spans.start_unix_nano, "end_ns": spans.end_unix_nano})
    frame = frame[~frame.duplicated(["trace", "span"])].reset_index(drop=True)
    keep = frame.index.to_numpy()
    n = len(frame)
    frame["start"] = frame.start_ns / NS
    frame["duration_ms"] = np.clip(frame.end_ns - frame.start_ns, 0, None) / MS
    lookup = pd.Series(np.arange(n), index=pd.MultiIndex.from_arrays([frame.trace, frame.span]))
    parent = lookup.reindex(pd.MultiIndex.from_arrays([frame.trace, frame.parent_span])).to_numpy()
    frame["parent"] = np.where(np.isnan(parent), -1, parent).astype(np.int64)
    has_parent = frame.parent.to_numpy() >= 0
    parents = frame.parent.to_numpy()[has_parent]
    covered = np.bincount(parents, weights=frame.duration_ms.to_numpy()[has_parent], minlength=n)
    # Children may overlap (parallel calls): their summed time is capped at the parent's.
    frame["own_ms"] = frame.duration_ms - np.minimum(covered, frame.duration_ms)
    service = frame.service.to_numpy()
    frame["parent_service"] = np.where(has_parent, service[np.where(has_parent, frame.parent, 0)], "")
    crossing = has_parent & (frame.parent_service.to_numpy() != service)
    callee = pd.Series(service[crossing], index=frame.parent.to_numpy()[crossing])
    callee = callee[~callee.index.duplicated()]
    frame["callee"] = callee.reindex(np.arange(n)).fillna("").to_numpy()
    if spans.kind is not None:
        kinds = spans.kind[keep]
        frame["client"] = (kinds == KIND_CLIENT) | ((kinds == 0) & (frame.callee != ""))
    else:
        frame["client"] = frame.callee != ""
    frame["error"] = (spans.status_code[keep] == STATUS_ERROR) if spans.status_code is not None else False
    trace_start = frame.groupby("trace").start.transform("min")
    frame["after"] = trace_start >= start
    frame["key"] = frame.service + "|" + frame.operation
    return frame


def _shift(frame: pd.DataFrame, by: list[str], value: str, min_before: int, min_after: int) -> pd.DataFrame:
    """Per group: medians before/after, robust z of the after median and log ratio of medians."""
    grouped = frame.groupby([*by, "after"])[value]
    stats = grouped.agg(["median", "size"]).unstack("after")
    stats.columns = [f"{a}_{b}" for a, b in stats.columns]
    for column in ("median_False", "median_True", "size_False", "size_True"):
        if column not in stats:
            stats[column] = np.nan if column.startswith("median") else 0
    before = frame[~frame.after]
    mad = (before[value] - before.groupby(by)[value].transform("median")).abs().groupby(
        [before[c] for c in by]).median()
    stats["mad"] = mad.reindex(stats.index).fillna(0.0)
    stats = stats[(stats.size_False >= min_before) & (stats.size_True >= min_after)].copy()
    b, a = stats.median_False, stats.median_True
    floor = 0.05 * b + 0.01  # ms: spans of a few microseconds jitter by their own size
    stats["z"] = (a - b) / (1.4826 * stats.mad + floor)
    stats["log_ratio"] = np.log((a + floor) / (b + floor))
    return stats


def self_time_signal(frame: pd.DataFrame, *, min_before: int = 3, min_after: int = 2,
                     evidence: int = 3) -> Signal:
    signal = Signal("trace.span_self_time", TRACE, {})
    own = frame[~frame.client]
    stats = _shift(own, ["service", "operation"], "own_ms", min_before, min_after)
    stats = stats[stats.log_ratio > 0]
    first_after = own[own.after].groupby(["service", "operation"]).start.min()
    for service, rows in stats.sort_values("log_ratio", ascending=False).groupby(level="service", sort=False):
        signal.score[str(service)] = float(rows.log_ratio.iloc[0])
        signal.evidence[str(service)] = [
            Evidence("span_self_time", round(float(r.z), 3), float(first_after.get(index, np.nan)), TRACE,
                     operation=str(index[1]), observed=round(float(r.median_True), 3),
                     expected=round(float(r.median_False), 3))
            for index, r in rows.head(evidence).iterrows()]
    return signal


def call_latency_signal(frame: pd.DataFrame, *, min_before: int = 3, min_after: int = 2,
                        evidence: int = 3) -> Signal:
    signal = Signal("trace.call_latency", TRACE, {})
    calls = frame[frame.client & (frame.callee != "")]
    stats = _shift(calls, ["service", "callee"], "own_ms", min_before, min_after)
    if stats.empty:
        return signal
    first_after = calls[calls.after].groupby(["service", "callee"]).start.min()
    per_callee = stats.log_ratio.groupby(level="callee")
    for callee, mean in per_callee.mean().items():
        if mean <= 0:
            continue
        signal.score[str(callee)] = float(mean)
        rows = stats.xs(callee, level="callee").sort_values("log_ratio", ascending=False).head(evidence)
        signal.evidence[str(callee)] = [
            Evidence("call_latency", round(float(r.z), 3), float(first_after.get((caller, callee), np.nan)),
                     TRACE, calls=f"{caller} -> {callee}", observed=round(float(r.median_True), 3),
                     expected=round(float(r.median_False), 3))
            for caller, r in rows.iterrows()]
    return signal


def child_events(frame: pd.DataFrame) -> pd.DataFrame:
    """Each span's child calls as events of its parent: ``row`` (the parent span), ``event`` (the child's key)."""
    children = frame[frame.parent >= 0]
    return pd.DataFrame({"row": children.parent.to_numpy(), "event": children.key.to_numpy()})


def expected_events(frame: pd.DataFrame, events: pd.DataFrame, *, min_before: int = 2) -> pd.DataFrame:
    """Per (operation key, event): count before, count after, and the count due after.

    The rate is events per span of that operation before the start; what is due after is
    that rate times the operation's spans after the start. Only operations seen at least
    ``min_before`` times before and once after are judged.
    """
    spans_per_key = frame.groupby(["key", "after"]).size().unstack("after").reindex(
        columns=[False, True], fill_value=0).fillna(0)
    tagged = pd.DataFrame({"key": frame.key.to_numpy()[events.row.to_numpy()], "event": events.event.to_numpy(),
                           "after": frame.after.to_numpy()[events.row.to_numpy()]})
    counts = tagged.groupby(["key", "event", "after"]).size().unstack("after").reindex(
        columns=[False, True], fill_value=0).fillna(0)
    counts.columns = ["before", "after"]
    keys = counts.index.get_level_values("key")
    n_before = spans_per_key[False].reindex(keys).to_numpy()
    n_after = spans_per_key[True].reindex(keys).to_numpy()
    counts["due"] = counts.before / np.maximum(n_before, 1) * n_after
    counts["service"] = [k.split("|", 1)[0] for k in keys]
    counts["operation"] = [k.split("|", 1)[1] for k in keys]
    return counts[(n_before >= min_before) & (n_after >= 1)]


def missing_share(counts: pd.DataFrame, pseudo: float) -> pd.Series:
    """Per service: the share of due events that did not come, ``sum(missing) / (sum(due) + pseudo)``."""
    missing = (counts.due - counts.after).clip(lower=0)
    grouped = pd.DataFrame({"missing": missing, "due": counts.due, "service": counts.service}).groupby("service")
    return grouped.missing.sum() / (grouped.due.sum() + pseudo)


def missing_calls_signal(frame: pd.DataFrame, *, pseudo: float = 5.0, evidence: int = 3) -> Signal:
    signal = Signal("trace.missing_calls", TRACE, {})
    counts = expected_events(frame, child_events(frame))
    if counts.empty:
        return signal
    share = missing_share(counts, pseudo)
    gone = counts.assign(missing=(counts.due - counts.after).clip(lower=0)).sort_values("missing", ascending=False)
    after_start = frame[frame.after].groupby("key").start.min()
    for service, value in share.items():
        if value <= 0:
            continue
        signal.score[str(service)] = float(value)
        rows = gone[(gone.service == service) & (gone.missing > 0)].head(evidence)
        signal.evidence[str(service)] = [
            Evidence("missing_calls", round(float(count_surprise([r.after], [r.due])[0]), 3),
                     float(after_start.get(key, np.nan)), TRACE, operation=r.operation,
                     calls=f"{service} -> {event.split('|', 1)[0]}: {event.split('|', 1)[1]}",
                     observed=float(r.after), expected=round(float(r.due), 3))
            for (key, event), r in rows.iterrows()]
    return signal


def error_signal(frame: pd.DataFrame, *, evidence: int = 3) -> Signal:
    """Error-status spans that originate the error (no erroring child), per service, against the normal rate."""
    signal = Signal("trace.errors", TRACE, {})
    if not frame.error.any():
        return signal
    rows = np.arange(len(frame))
    errored_child = np.zeros(len(frame), dtype=bool)
    errors = frame.error.to_numpy() & (frame.parent.to_numpy() >= 0)
    errored_child[frame.parent.to_numpy()[errors]] = True
    origin = frame.error.to_numpy() & ~errored_child
    table = pd.DataFrame({"key": frame.key, "service": frame.service, "operation": frame.operation,
                          "after": frame.after, "origin": origin, "start": frame.start, "row": rows})
    per = table.groupby(["service", "operation", "after"]).origin.agg(["sum", "size"]).unstack("after").fillna(0)
    if per.empty:
        return signal
    per.columns = [f"{a}_{b}" for a, b in per.columns]
    for column in ("sum_False", "sum_True", "size_False", "size_True"):
        if column not in per:
            per[column] = 0.0
    due = per.sum_False / np.maximum(per.size_False, 1) * per.size_True
    per["surprise"] = count_surprise(per.sum_True, due)
    per["due"] = due
    first = table[table.after & table.origin].groupby(["service", "operation"]).start.min()
    positive = per[per.surprise > 0].sort_values("surprise", ascending=False)
    for service, group in positive.groupby(level="service", sort=False):
        signal.score[str(service)] = float(group.surprise.sum())
        signal.evidence[str(service)] = [
            Evidence("error_spans", round(float(r.surprise), 3), float(first.get(index, np.nan)), TRACE,
                     operation=str(index[1]), observed=float(r.sum_True), expected=round(float(r.due), 3))
            for index, r in group.head(evidence).iterrows()]
    return signal


def trace_signals(spans: SpanTable, start: float, *, min_before: int = 3, min_after: int = 2,
                  evidence: int = 3) -> tuple[list[Signal], pd.DataFrame | None]:
    """Every trace signal of the window, and the span frame (the log signals tie records to it).

    Returns no signals when no trace began after ``start`` (nothing to compare).
    """
    if spans is None or len(spans) == 0:
        return [], None
    frame = span_frame(spans, start)
    if not frame.after.any() or frame.after.all():
        return [], frame
    signals = [self_time_signal(frame, min_before=min_before, min_after=min_after, evidence=evidence),
               call_latency_signal(frame, min_before=min_before, min_after=min_after, evidence=evidence),
               missing_calls_signal(frame, evidence=evidence),
               error_signal(frame, evidence=evidence)]
    return [s for s in signals if s.score], frame
