"""What an RCA worker does, apart from being an actor: read, analyse, write.

``RcaRunner`` turns a queued request into a stored result (loading the anomaly, the
tenant's metric frame around it, its call edges and the tenant's chosen ranker), and
computes and stores tenant correlation graphs for ``GET /api/v1/rca/correlations``.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiops.rca.analysis import GraphOptions, analyse, service_graph
from aiops.rca.frame import MetricFrame
from aiops.rca.graph import DECLARED, OBSERVED, Edge, Related, ServiceGraph
from aiops.rca.summary import template_summary
from aiops.settings import Settings
from aiops.storage.records import GraphSnapshot, RcaRecord
from aiops.telemetry.health import TELEMETRY_METRICS
from models.rankers.base import Evidence, RankedCause, RootCauseRanker
from models.registry import build
from models.telemetry import LogTable, SpanTable

SPAN_COLUMNS = ("trace_id", "span_id", "parent_span_id", "service", "operation", "start_unix_nano",
                "end_unix_nano", "status_code", "kind")
LOG_COLUMNS = ("timestamp_unix_nano", "service", "trace_id", "span_id", "severity", "body")

log = logging.getLogger(__name__)


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


OPTIONAL_EVIDENCE = ("operation", "calls", "template", "observed", "expected")


def evidence_json(e: Evidence, fallback_at: float) -> dict:
    """One evidence item as stored and answered: the reference's fields, ``kind``, and what applies."""
    at = e.at if math.isfinite(e.at) else fallback_at
    item = {"metric_name": e.metric_name, "z_score": e.z_score, "at": rfc3339(at), "kind": e.kind}
    item.update({k: getattr(e, k) for k in OPTIONAL_EVIDENCE if getattr(e, k) is not None})
    return item


def causes_json(ranking: list[RankedCause], limit: int = 5, start: float = 0.0) -> list[dict]:
    """The top ``limit`` causes; evidence without a time of its own is dated at ``start``."""
    return [{"service_id": c.service_id, "score": c.score, "evidence": [evidence_json(e, start) for e in c.evidence]}
            for c in ranking[:limit]]


def blast_json(blast: list[Related]) -> list[dict]:
    ordered = sorted(blast, key=lambda r: (r.depth, r.lag_minutes, r.service_id))
    return [{"service_id": r.service_id, "lag_minutes": r.lag_minutes,
             "correlation_score": round(r.correlation_score, 4), "depth": r.depth} for r in ordered]


def incident_queries(anomaly, alerts: list, ranking: list[RankedCause]) -> list[str]:
    """What the incident memory is searched with: the alert's own words plus the RCA evidence,
    and the evidence alone (an alert's wording is about symptoms; past fixes name causes)."""
    words = []
    for alert in alerts[:3]:
        notes = [alert.annotations.get(k, "") for k in ("summary", "description", "message")]
        words.append(f"{alert.alertname} on {alert.service_id}: " + " ".join(n for n in notes if n))
    if not words:
        words.append(f"{anomaly.metric_name} of {anomaly.service_id} is anomalous")
    evidence = ""
    if ranking:
        root = ranking[0]
        metrics = " and ".join(dict.fromkeys(e.metric_name for e in root.evidence[:3]))
        moves = "rising" if root.evidence and root.evidence[0].z_score > 0 else "falling"
        evidence = f"root cause {root.service_id}, {metrics} {moves}" if metrics else f"root cause {root.service_id}"
    return [". ".join([*words, evidence]) if evidence else ". ".join(words)] + ([evidence] if evidence else [])


class RcaRunner:
    """``similar(tenant, texts, root_service)`` looks up past resolutions; ``narrator`` may write the summary."""

    def __init__(self, settings: Settings, store, similar=None, narrator=None) -> None:
        self._settings = settings
        self._store = store  # a StoreGateway's sync proxy, or a Store
        self._similar = similar
        self._narrator = narrator

    @property
    def options(self) -> GraphOptions:
        return GraphOptions.from_settings(self._settings.rca)

    def ranker_for(self, tenant_id: str) -> RootCauseRanker:
        chosen = self._store.model_choices(tenant_id).get("ranker")
        if chosen is None:
            return build("ranker", self._settings.rca.ranker)
        return build("ranker", chosen[0], json.loads(chosen[1] or "{}"))

    def declared_edges(self, tenant_id: str) -> list[Edge]:
        found = self._store.load_topology(tenant_id)
        return [Edge(caller, callee, DECLARED, 1.0, 0) for caller, callee in (found[0] if found else [])]

    def call_edges(self, tenant_id: str, since: datetime, until: datetime) -> list[Edge]:
        """The tenant's known calls: those its spans showed in ``[since, until)`` when there are any
        (what the services really did then), else its declared topology."""
        observed = self._store.observed_calls(tenant_id, since, until)
        if observed:
            return [Edge(call.caller, call.callee, OBSERVED, 1.0, 0) for call in observed]
        return self.declared_edges(tenant_id)

    def frame(self, tenant_id: str, since: datetime, until: datetime,
              ranker: RootCauseRanker | None = None) -> MetricFrame:
        """The tenant's metrics in ``[since, until)`` per ``rca.step_seconds``. For a ``ranker`` that
        reads spans and logs itself (``reads_telemetry``), without the series the rollup derives
        from them (:data:`~aiops.telemetry.health.TELEMETRY_METRICS`), as ``aiops eval rca``
        measures it (its frame is a case's ``metrics.csv``): counted twice, trace and log
        evidence would outvote the other metrics, and a series of zero errors that sees one
        error moves by "infinite" sigmas."""
        rca = self._settings.rca
        leave_out = sorted(TELEMETRY_METRICS) if ranker is not None and ranker.reads_telemetry else []
        at, services, metrics, values = self._store.metric_frame(tenant_id, since, until, rca.step_seconds,
                                                                  rca.max_series, leave_out)
        return MetricFrame.from_long(at, services, metrics, values, step=rca.step_seconds)

    def telemetry(self, tenant_id: str, since: datetime, until: datetime) -> tuple[SpanTable | None, LogTable | None]:
        """The window's stored spans and log records (OTLP), for rankers that read them (``multimodal``).

        The same :class:`SpanTable` / :class:`LogTable` that ``aiops eval rca`` builds from a
        case's ``traces.csv`` / ``logs.csv``, so the analysis is the one measured offline. At most
        ``rca.max_spans`` spans and ``rca.max_log_records`` records, sampled by trace beyond
        that; ``None`` for a kind the tenant sent none of in the window.
        """
        rca = self._settings.rca
        spans = self._store.spans_in_window(tenant_id, since, until, rca.max_spans)
        logs = self._store.logs_in_window(tenant_id, since, until, rca.max_log_records)
        span_table = SpanTable.from_columns(**{name: spans.column(name).to_numpy(zero_copy_only=False)
                                               for name in SPAN_COLUMNS}) if spans.num_rows else None
        log_table = LogTable.from_columns(**{name: logs.column(name).to_numpy(zero_copy_only=False)
                                             for name in LOG_COLUMNS}) if logs.num_rows else None
        return span_table, log_table

    # -- analyses --------------------------------------------------------------------------
    def start_of(self, anomaly) -> tuple[datetime, list]:
        """When the trouble began, and the anomaly's alerts. An alert fires after its rule's
        ``for`` window, so a linked watchdog episode of the same service that led up to it is
        the earlier, truer start. An episode that had already ended ``alerts.onset_gap_minutes``
        before the alert started is an earlier, separate incident and is passed over: taking
        it would aim the analysis window at the wrong trouble."""
        if anomaly.source != "alertmanager":
            return anomaly.detected_at, []
        alerts = self._store.list_alerts(anomaly.tenant_id, anomaly.anomaly_id)
        fired = anomaly.detected_at
        still_on = fired - timedelta(minutes=self._settings.alerts.onset_gap_minutes)
        starts = [fired]
        for linked in {i for a in alerts for i in a.linked_anomalies}:
            found = self._store.get_anomaly(anomaly.tenant_id, linked)
            if found is not None and found.detected_at <= fired and found.last_seen_at >= still_on:
                starts.append(found.detected_at)
        return min(starts), alerts

    def analyse(self, request: RcaRecord) -> RcaRecord:
        """The finished record for a request: ``done`` with a result, or ``failed`` with a reason."""
        now = datetime.now(UTC)
        anomaly = self._store.get_anomaly(request.tenant_id, request.anomaly_id)
        if anomaly is None:
            return replace(request, status="failed", error="the anomaly no longer exists", error_code="anomaly_gone",
                           updated_at=now)
        rca = self._settings.rca
        start, alerts = self.start_of(anomaly)
        window = (start - timedelta(minutes=rca.lookback_minutes), start + timedelta(minutes=rca.after_minutes))
        ranker = self.ranker_for(request.tenant_id)
        frame = self.frame(request.tenant_id, *window, ranker)
        spans, logs = self.telemetry(request.tenant_id, *window)
        if len(frame.columns) == 0 and not spans and not logs:
            return replace(request, status="failed", ranker=ranker.name, updated_at=now, error_code="no_metrics",
                           error="no metrics, spans or logs stored in the analysis window")
        focus = anomaly.service_id if rca.focus_on_calls and anomaly.service_id else None
        result = analyse(frame, start.timestamp(), ranker, declared=self.call_edges(request.tenant_id, *window),
                         options=self.options, spans=spans, logs=logs, focus=focus)
        similar = []
        if self._similar is not None:
            root = result.ranking[0].service_id if result.ranking else None
            similar = self._similar(request.tenant_id, incident_queries(anomaly, alerts, result.ranking), root)
        causes, blast = causes_json(result.ranking, start=start.timestamp()), blast_json(result.blast_radius)
        summary = template_summary(anomaly.service_id, anomaly.metric_name, result.ranking, result.blast_radius,
                                   similar)
        summary_by = "template"
        if self._narrator is not None and self._narrator.enabled:
            facts = {"anomaly": {"service_id": anomaly.service_id, "metric_name": anomaly.metric_name,
                                 "source": anomaly.source, "started_at": start.isoformat()},
                     "alerts": [{"alertname": a.alertname, "annotations": a.annotations} for a in alerts[:3]],
                     "root_causes": causes[:3], "blast_radius": blast[:10], "similar_incidents": similar[:3]}
            narrated = self._narrator.narrate(facts)
            if narrated:
                summary, summary_by = narrated, "llm"
        return replace(request, status="done", ranker=ranker.name, root_causes=causes, blast_radius=blast,
                       similar_incidents=similar, summary=summary, summary_by=summary_by, error="", error_code="",
                       updated_at=datetime.now(UTC))

    # -- tenant graphs ---------------------------------------------------------------------
    def refresh_graph(self, tenant_id: str) -> GraphSnapshot | None:
        """Learn the tenant's graph over the ``lookback_minutes`` before its newest point and store it."""
        newest = self._store.newest_point_at(tenant_id)
        if newest is None:
            return None
        until = newest + timedelta(seconds=self._settings.rca.step_seconds)
        since = until - timedelta(minutes=self._settings.rca.lookback_minutes)
        frame = self.frame(tenant_id, since, until)
        graph = service_graph(frame, [], self.options)
        computed_at = datetime.now(UTC)
        self._store.save_graph(tenant_id, frame.services, graph.edges, computed_at, (since, until))
        return GraphSnapshot(tenant_id, computed_at, frame.services, graph.edges)

    def current_graph(self, tenant_id: str, max_age_seconds: float) -> ServiceGraph | None:
        """The stored graph if fresh enough, else a newly learned one; call edges added."""
        snapshot = self._store.load_graph(tenant_id)
        age = (datetime.now(UTC) - snapshot.computed_at).total_seconds() if snapshot else None
        if snapshot is None or age is None or age > max_age_seconds:
            snapshot = self.refresh_graph(tenant_id) or snapshot
        if snapshot is None:
            return None
        now = datetime.now(UTC)
        calls = self.call_edges(tenant_id, now - timedelta(minutes=self._settings.rca.lookback_minutes), now)
        return ServiceGraph(list(snapshot.edges) + calls, set(snapshot.services))
