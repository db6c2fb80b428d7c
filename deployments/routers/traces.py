"""``GET /api/v1/traces`` (trace summaries) and ``GET /api/v1/traces/{trace_id}`` (one trace as a tree)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from aiops.errors import NotFound, Unprocessable
from aiops.schemas.telemetry import SpanNode, TraceOut, TracesResponse, TraceSummaryOut
from aiops.storage.telemetry_records import StoredSpan
from deployments.deps import Ctx, Reader
from deployments.routing import AuthorizedRoute
from deployments.timeparams import query_time

router = APIRouter(prefix="/api/v1/traces", tags=["traces"], route_class=AuthorizedRoute)

KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUSES = ("unset", "ok", "error")
MAX_DEPTH = 64  # deeper spans hang under their ancestor at this depth (keeps the JSON nesting bounded)


def at(unix_nano: int) -> datetime:
    return datetime.fromtimestamp(unix_nano / 1e9, UTC)


def _node(span: StoredSpan) -> SpanNode:
    return SpanNode(
        span_id=span.span_id, parent_span_id=span.parent_span_id or None, service_id=span.service,
        operation=span.operation, kind=KINDS[span.kind] if span.kind < len(KINDS) else "unspecified",
        start=at(span.start_unix_nano), start_unix_nano=span.start_unix_nano, duration_ms=span.duration_ns / 1e6,
        status=STATUSES[span.status_code] if span.status_code < len(STATUSES) else "unset",
        status_message=span.status_message, attributes=span.attributes, children=[],
    )


def span_tree(spans: list[StoredSpan]) -> list[SpanNode]:
    """Spans (oldest first) nested under their parents. Spans whose parent is not in the trace (or
    that close a parent cycle, which only a broken sender makes) are roots; nesting stops at
    :data:`MAX_DEPTH`, deeper spans hanging under their ancestor there."""
    nodes = {span.span_id: _node(span) for span in spans}
    parent = {s.span_id: s.parent_span_id for s in spans if s.parent_span_id in nodes and s.parent_span_id != s.span_id}
    depth: dict[str, int] = {}

    def level(span_id: str) -> int:
        path: list[str] = []
        node = span_id
        while node not in depth:
            up = parent.get(node)
            if up is None or up in path:
                parent.pop(node, None)
                depth[node] = 0
                break
            path.append(node)
            node = up
        for offset, below in enumerate(reversed(path), start=1):
            depth[below] = depth[node] + offset
        return depth[span_id]

    roots: list[SpanNode] = []
    for span in spans:
        if level(span.span_id) == 0:
            roots.append(nodes[span.span_id])
            continue
        holder = parent[span.span_id]
        while depth[holder] >= MAX_DEPTH:
            holder = parent[holder]
        nodes[holder].children.append(nodes[span.span_id])
    return roots


@router.get("", response_model=TracesResponse)
async def list_traces(
    identity: Reader,
    context: Ctx,
    service_id: Annotated[str | None, Query(min_length=1, max_length=256, description="traces touching it")] = None,
    since: Annotated[datetime | None, Query(description="RFC3339 or unix seconds; default until - 1h")] = None,
    until: Annotated[datetime | None, Query(description="RFC3339 or unix seconds; default now")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> TracesResponse:
    """Traces with a span starting in ``[since, until)``, newest first."""
    until = query_time("until", until) or datetime.now(UTC)
    since = query_time("since", since) or until - timedelta(hours=1)
    if since >= until:
        raise Unprocessable("since must be before until")
    found = await context.store.aio.list_traces(identity.tenant_id, service_id, since, until, limit)
    return TracesResponse(traces=[
        TraceSummaryOut(trace_id=t.trace_id, root_service=t.root_service, root_operation=t.root_operation,
                        start=at(t.start_unix_nano), duration_ms=(t.end_unix_nano - t.start_unix_nano) / 1e6,
                        spans=t.spans, errors=t.errors, services=t.services)
        for t in found
    ])


@router.get("/{trace_id}", response_model=TraceOut)
async def get_trace(
    identity: Reader,
    context: Ctx,
    trace_id: Annotated[str, Path(min_length=1, max_length=64, description="32 hex digits")],
) -> TraceOut:
    """One trace's spans as a tree (404 when the tenant has no such trace)."""
    trace_id = trace_id.lower()
    if len(trace_id) != 32 or any(c not in "0123456789abcdef" for c in trace_id):
        raise NotFound(f"trace {trace_id[:64]!r} not found (a trace id is 32 hex digits)")
    spans = await context.store.aio.get_trace(identity.tenant_id, trace_id,
                                              context.settings.otlp.max_spans_per_trace_read)
    if not spans:
        raise NotFound(f"trace {trace_id} not found")
    start = min(s.start_unix_nano for s in spans)
    end = max(s.start_unix_nano + s.duration_ns for s in spans)
    return TraceOut(trace_id=trace_id, spans=len(spans), services=sorted({s.service for s in spans}), start=at(start),
                    duration_ms=(end - start) / 1e6, roots=span_tree(spans))
