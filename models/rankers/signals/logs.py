"""Log evidence: which service started logging trouble, or stopped logging what it always logs.

Records are mined into templates (:mod:`models.rankers.signals.templates`) and split at the
anomaly start (by their trace's start when they were written in a traced request, as spans
are, otherwise by their own time).

- ``error_logs``: per service and template, the error lines (severity error or worse, or
  naming an exception class) after the start, against what the normal part of the window
  predicts for the same log volume: each template's lines weighted by the share of them that
  was not due (:func:`~models.rankers.signals.base.novel_count`; a template never seen before
  counts in full, chronic chatter hardly at all), summed over the service's templates, as a
  saturating strength (one new error line 0.5, three 0.75). Warnings are left out: on Train
  Ticket the warning lines of busy services ("left ticket info is empty") surge with the
  traffic mix and outvoted the faulty service's own errors (Avg@5 of this measure alone
  there 0.25-0.27 with warnings, 0.33 without). A caller's error lines that echo a new error
  logged deeper in the same request by another service are not counted (:func:`echoed`).
  The evidence's ``z_score`` is the Poisson surprise of the surplus (nats).
- ``missing_logs``: per operation, the log templates its spans normally write (lines per
  span before the start) and those they wrote after: an exception thrown early in a request
  handler leaves the span but not the lines after the throw. The share of the due lines that
  did not come, per service, weighted by how unlikely that shortfall is by chance (as
  ``missing_calls`` does for child calls, :func:`~models.rankers.signals.traces.missing_share`).
  Needs spans.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.rankers.base import LOG, Evidence
from models.rankers.signals.base import Signal, count_surprise, novel_count, saturating
from models.rankers.signals.templates import exception_names, mine_templates
from models.rankers.signals.traces import SpanFrame, expected_events, joined, missing_events_signal
from models.telemetry import LogTable

NS = 1e9


def log_frame(logs: LogTable, start: float, spans: SpanFrame | None) -> tuple[pd.DataFrame, dict[int, str]]:
    """One row per record: ``service, template, error, exception, at, after, row`` (its span's row or -1)."""
    templates, texts = mine_templates(logs.service, logs.body)
    exceptions = exception_names(logs.body)
    frame = pd.DataFrame({"service": logs.service, "template": templates, "at": logs.timestamp_unix_nano / NS,
                          "error": logs.is_error() | (exceptions != ""), "exception": exceptions})
    frame["after"] = frame["at"] >= start
    frame["row"] = -1
    if spans is not None and len(spans):
        row = spans.rows.get_indexer(joined(logs.trace_id, logs.span_id))
        found = row >= 0
        frame.loc[found, "row"] = row[found]
        # A record written in a request that began before the start is normal behaviour.
        frame.loc[found, "after"] = spans.after[row[found]]
    return frame, texts


def error_logs_signal(frame: pd.DataFrame, texts: dict[int, str], spans: SpanFrame | None = None, *,
                      evidence: int = 3) -> Signal:
    signal = Signal("log.error_logs", LOG, {})
    before, after = int((~frame.after).sum()), int(frame.after.sum())
    if before == 0 or after == 0:
        return signal
    errors = frame[frame.error]
    counts = errors.groupby(["service", "template", "after"]).size().unstack("after").reindex(
        columns=[False, True], fill_value=0).fillna(0)
    counts.columns = ["before", "after"]
    counts["due"] = counts.before * (after / before)  # the same share of the window's log volume
    counts["surprise"] = count_surprise(counts.after, counts.due)
    counts["echoed"] = echoed(errors, counts, spans).reindex(counts.index, fill_value=0)
    counts["novel"] = novel_count(counts.after - counts.echoed, counts.due)
    first = errors[errors.after].groupby(["service", "template"])["at"].min()
    surplus = counts[counts.novel > 0].sort_values(["novel", "surprise"], ascending=False)
    for service, rows in surplus.groupby(level="service", sort=False):
        signal.score[str(service)] = float(saturating(rows.novel.sum()))
        signal.evidence[str(service)] = [
            Evidence("error_logs", round(float(r.surprise), 3), float(first.get(index, np.nan)), LOG,
                     template=texts.get(int(index[1]), ""), observed=float(r.after), expected=round(float(r.due), 3))
            for index, r in rows.head(evidence).iterrows()]
    return signal


def echoed(errors: pd.DataFrame, counts: pd.DataFrame, spans: SpanFrame | None) -> pd.Series:
    """Per (service, template): error lines after the start written in a span that called, directly
    or through others, a span of another service that wrote a *new* error line (a template more
    than half of whose lines after the start were not due).

    An error travels up the call chain: the callee that returned a wrong value or threw logs
    it first, and each caller on the way may log its own error about the failed call. The
    deepest new error is the origin (as ``trace.errors`` blames the error span without an
    erroring child); the callers' lines echo it and are not counted against them.
    """
    if spans is None or not len(errors):
        return pd.Series(dtype=float)
    late = errors[errors.after & (errors.row >= 0)]
    share = counts.after / (counts.after + counts.due)
    new = share.reindex(pd.MultiIndex.from_arrays([late.service, late.template])).to_numpy() > 0.5
    origin = late.row.to_numpy()[new]
    callers = np.zeros(len(spans), dtype=bool)
    at = spans.parent[origin]
    for _ in range(64):  # deeper call chains than this are not followed
        at = at[at >= 0]
        if not at.size:
            break
        callers[at] = True
        at = spans.parent[at]
    # A service's own spans above its own error are the same service: not an echo.
    own = np.zeros(len(spans), dtype=bool)
    at, service = spans.parent[origin], spans.svc[origin]
    for _ in range(64):
        keep = at >= 0
        at, service = at[keep], service[keep]
        if not at.size:
            break
        same = spans.svc[at] == service
        own[at[same]] = True
        at, service = at[same], service[same]  # stop climbing once the chain leaves the service
        at = spans.parent[at]
    echo = callers[late.row.to_numpy()] & ~own[late.row.to_numpy()]
    return late[echo].groupby(["service", "template"]).size().astype(float)


def missing_logs_signal(frame: pd.DataFrame, texts: dict[int, str], spans: SpanFrame, *, evidence: int = 3) -> Signal:
    tied = frame[frame.row >= 0]
    counts = expected_events(spans, tied.row.to_numpy(), tied.template.to_numpy()) if len(tied) else pd.DataFrame()
    first = pd.Series(spans.start[spans.after]).groupby(spans.op[spans.after]).min()

    def describe(op: int, template: int, r) -> Evidence:
        return Evidence("missing_logs", round(float(count_surprise([r.after], [r.due])[0]), 3),
                        float(first.get(op, np.nan)), LOG, operation=str(spans.op_operation[op]),
                        template=texts.get(template, ""), observed=float(r.after), expected=round(float(r.due), 3))

    return missing_events_signal("log.missing_logs", LOG, spans, counts, describe, evidence=evidence)


def log_signals(logs: LogTable | None, start: float, spans: SpanFrame | None, *,
                evidence: int = 3) -> list[Signal]:
    """Every log signal of the window (none when no record falls on one side of the start)."""
    if logs is None or len(logs) == 0:
        return []
    frame, texts = log_frame(logs, start, spans)
    if not frame.after.any() or frame.after.all():
        return []
    signals = [error_logs_signal(frame, texts, spans, evidence=evidence)]
    if spans is not None:
        signals.append(missing_logs_signal(frame, texts, spans, evidence=evidence))
    return [s for s in signals if s.score]
