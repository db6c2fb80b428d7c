"""``/api/v1/anomalies``: the tenant's anomalies, newest first, and their triage."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from aiops.errors import NotFound
from aiops.paging import decode_position, encode_position
from aiops.schemas.anomalies import AnomalyList, AnomalyOut, AnomalyPatch
from aiops.storage.records import AnomalyRecord
from deployments.deps import Ctx, Reader, Writer
from deployments.routing import AuthorizedRoute
from deployments.timeparams import query_time

router = APIRouter(prefix="/api/v1/anomalies", tags=["anomalies"], route_class=AuthorizedRoute)

AnomalyId = Annotated[str, Path(min_length=1, max_length=64)]


def public(a: AnomalyRecord) -> AnomalyOut:
    return AnomalyOut(
        anomaly_id=a.anomaly_id, service_id=a.service_id, metric_name=a.metric_name, anomaly_score=a.anomaly_score,
        z_score=a.z_score, detected_at=a.detected_at, rca_triggered=a.rca_triggered, resolved=a.resolved,
        source=a.source, model=a.model, last_seen_at=a.last_seen_at, labels=a.labels, feedback=a.feedback or None,
    )


@router.get("", response_model=AnomalyList)
async def list_anomalies(
    identity: Reader,
    context: Ctx,
    service_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    since: Annotated[datetime | None, Query(description="RFC3339")] = None,
    until: Annotated[datetime | None, Query(description="RFC3339")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> AnomalyList:
    after = decode_position(page_token) if page_token else None
    page = await context.store.aio.list_anomalies(
        identity.tenant_id, service_id=service_id, since=query_time("since", since),
        until=query_time("until", until), min_score=min_score, limit=limit, after=after,
    )
    token = encode_position(*page.next_after) if page.next_after else None
    return AnomalyList(anomalies=[public(a) for a in page.anomalies], total=page.total, page_token=token)


@router.patch("/{anomaly_id}", response_model=AnomalyOut)
async def triage_anomaly(anomaly_id: AnomalyId, body: AnomalyPatch, identity: Writer, context: Ctx) -> AnomalyOut:
    """Mark resolved and/or give feedback; a false positive makes that series less sensitive."""
    found = await context.store.aio.get_anomaly(identity.tenant_id, anomaly_id)
    if found is None:
        raise NotFound(f"anomaly {anomaly_id!r} not found")
    changes: dict = {"updated_at": datetime.now(UTC)}
    if body.resolved is not None:
        changes["resolved"] = body.resolved
    if body.feedback is not None:
        changes["feedback"] = body.feedback
    updated = dataclasses.replace(found, **changes)
    await context.store.aio.upsert_anomalies([updated])
    if body.feedback is not None and found.source == "watchdog":
        await context.engine.send_feedback(identity.tenant_id, found.series_id, body.feedback)
    return public(updated)
