"""The plain-language RCA summary written without an LLM: deterministic, names what matters.

It states the most likely root cause and why (its strongest evidence: metrics that moved,
spans that slowed or stopped calling, log lines that appeared or went missing), what else was
considered, the blast radius in order of arrival, and the best matching past fix when
there is one, so an on-call engineer can act on it without opening anything else.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from models.rankers.base import METRIC, Evidence, RankedCause
from models.telemetry.graph import Related


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M UTC")


def describe(e: Evidence) -> str:
    """One evidence item in words: what moved, where, by how much, when."""
    when = f" at {_clock(e.at)}" if math.isfinite(e.at) else ""
    if e.kind == METRIC or e.observed is None or e.expected is None:
        return f"{e.metric_name} moved {e.z_score:+.1f} sigma{when}"
    seen, due = f"{e.observed:.3g}", f"{e.expected:.3g}"
    phrases = {
        "span_self_time": f"its {e.operation} spans took {seen} ms of their own (normally {due})",
        "call_latency": f"calls {e.calls} spent {seen} ms between the two sides (normally {due})",
        "missing_calls": f"its {e.operation} spans made {seen} of {due} expected calls ({e.calls})",
        "missing_logs": f"its {e.operation} spans wrote '{e.template}' {seen} times of {due} expected",
        "error_logs": f"it logged '{e.template}' {seen} times ({due} expected)",
        "error_spans": f"{seen} of its {e.operation} spans failed ({due} expected)",
    }
    return phrases.get(e.metric_name, f"{e.metric_name} was {seen} ({due} expected)") + when


def _evidence(cause: RankedCause) -> str:
    parts = [describe(e) for e in cause.evidence[:2]]
    return " and ".join(parts) if parts else "no metric moved clearly"


def template_summary(origin_service: str, origin_metric: str, ranking: list[RankedCause], blast: list[Related],
                     similar: list[dict] | None = None) -> str:
    if not ranking:
        return (f"No metrics were stored around the anomaly on {origin_service}/{origin_metric}, "
                "so no root cause could be ranked.")
    root = ranking[0]
    text = [f"The anomaly on {origin_service}/{origin_metric} most likely starts at {root.service_id} "
            f"(score {root.score:.2f}): {_evidence(root)}."]
    others = [f"{c.service_id} ({c.score:.2f})" for c in ranking[1:3] if c.score > 0]
    if others:
        text.append(f"Less likely: {', '.join(others)}.")
    if blast:
        reached = sorted(blast, key=lambda r: (r.lag_minutes, r.depth, r.service_id))
        listed = ", ".join(f"{r.service_id} ({r.lag_minutes:+d} min)" for r in reached[:6])
        more = f" and {len(reached) - 6} more" if len(reached) > 6 else ""
        text.append(f"Blast radius: {listed}{more}.")
    else:
        text.append("No other service is known to follow it (no blast radius).")
    if similar:
        best = similar[0]
        text.append(f"A similar past incident ({best.get('incident_id', '?')}, similarity "
                    f"{best.get('similarity', 0):.2f}) was fixed by: {best.get('resolution', '').strip()}")
    return " ".join(text)
