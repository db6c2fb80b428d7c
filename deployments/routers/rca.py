"""``/api/v1/rca``: root-cause results per anomaly and the service correlation graph."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from aiops.errors import NotFound, Unavailable
from aiops.schemas.rca import Correlations, RcaResult
from aiops.storage.records import RcaRecord
from deployments.deps import Ctx, Reader
from deployments.routing import AuthorizedRoute

router = APIRouter(prefix="/api/v1/rca", tags=["rca"], route_class=AuthorizedRoute)

AnomalyId = Annotated[str, Path(min_length=1, max_length=64)]


def public(record: RcaRecord) -> RcaResult:
    status = "pending" if record.status in ("pending", "running") else record.status
    # Stored strings: the model validates them into its literals (a dict, so the types say so too).
    return RcaResult.model_validate(dict(
        anomaly_id=record.anomaly_id, status=status, root_causes=record.root_causes,
        blast_radius=record.blast_radius, similar_incidents=record.similar_incidents, summary=record.summary,
        summary_by=record.summary_by or None,
        reason=record.error or None if status == "failed" else None,
        reason_code=record.error_code or None if status == "failed" else None, ranker=record.ranker or None,
        requested_at=record.requested_at, updated_at=record.updated_at,
    ))


@router.get("/correlations", response_model=Correlations)
async def correlations(
    identity: Reader,
    context: Ctx,
    service_id: Annotated[str, Query(min_length=1, max_length=256, description="origin service")],
    depth: Annotated[int, Query(ge=1, le=10, description="max graph traversal depth")] = 3,
) -> Correlations:
    """Services whose metrics move with ``service_id``: lag, direction and strength, within ``depth`` hops."""
    found = await context.engine.correlations(identity.tenant_id, service_id, depth)
    if found is None:
        raise NotFound(f"service {service_id!r} not found")
    return Correlations.model_validate({"service_id": service_id, "correlations": found})


@router.get("/{anomaly_id}", response_model=RcaResult)
async def rca_result(anomaly_id: AnomalyId, identity: Reader, context: Ctx) -> RcaResult:
    """The RCA of an anomaly; requests one (``pending``) if none was yet. Asking again never re-runs it."""
    record = await context.store.aio.get_rca(identity.tenant_id, anomaly_id)
    if record is None:
        if await context.store.aio.get_anomaly(identity.tenant_id, anomaly_id) is None:
            raise NotFound(f"anomaly {anomaly_id!r} not found")
        record = await context.engine.request_rca(identity.tenant_id, anomaly_id, datetime.now(UTC))
        if record is None:
            raise Unavailable("the RCA request was not stored; retry", retry_after=1)
    return public(record)
