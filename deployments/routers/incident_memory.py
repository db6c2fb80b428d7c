"""The incident memory over HTTP: ``POST /api/v1/resolutions/webhook`` and ``/api/v1/incidents/search``."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

from fastapi import APIRouter

from aiops.incident_memory import IncidentMemory, new_record
from aiops.schemas.alerts import IncidentMatch, IncidentSearchIn, IncidentSearchOut, ResolutionIn, ResolutionOut
from deployments.bodies import ReferenceJSONResponse
from deployments.deps import Ctx, Reader, Writer
from deployments.routing import AuthorizedRoute

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["incidents"], route_class=AuthorizedRoute)


def memory(context: Ctx) -> IncidentMemory:
    return context.engine.incident_memory()


@router.post("/resolutions/webhook", response_model=ResolutionOut, response_class=ReferenceJSONResponse)
async def resolution_webhook(body: ResolutionIn, identity: Writer, context: Ctx) -> ResolutionOut:
    """A resolution people wrote; remembered (and embedded) for the next similar incident."""
    resolution_id = new_record(identity.tenant_id, body).resolution_id
    existing = await context.store.aio.get_resolution(identity.tenant_id, resolution_id)
    record = new_record(identity.tenant_id, body, existing.created_at if existing else None)
    await memory(context).remember(record)
    if body.incident_id and body.incident_id.startswith("inc-"):  # an incident (#18): resolved by this resolution
        await resolve_incident(context, identity.tenant_id, body.incident_id, body.resolved_by or identity.user_id)
    elif body.incident_id:  # it names an anomaly of this tenant: that anomaly is resolved now
        anomaly = await context.store.aio.get_anomaly(identity.tenant_id, body.incident_id)
        if anomaly is not None and not anomaly.resolved:
            await context.store.aio.upsert_anomalies([dataclasses.replace(anomaly, resolved=True,
                                                                          updated_at=datetime.now(UTC))])
    return ResolutionOut(stored=True, knowledge_base_id=record.resolution_id)


async def resolve_incident(context: Ctx, tenant_id: str, incident_id: str, by: str) -> None:
    """Record a resolution on the tenant's incident (resolving it if open); an unknown id changes nothing."""
    from aiops.incident.grouping import IncidentNotFound

    if await context.store.aio.get_incident(tenant_id, incident_id) is None:
        return
    try:
        await context.engine.resolve_incident(tenant_id, incident_id, by)
    except IncidentNotFound:
        return


@router.post("/incidents/search", response_model=IncidentSearchOut)
async def search_incidents(body: IncidentSearchIn, identity: Reader, context: Ctx) -> IncidentSearchOut:
    """Past incidents whose resolutions are closest in meaning to ``query``."""
    model, matches = await context.engine.search_incident_memory(identity.tenant_id, body.query, body.limit)
    return IncidentSearchOut(query=body.query, model=model, incidents=[IncidentMatch(
        incident_id=m.record.incident_id or m.record.resolution_id, resolution=m.record.resolution,
        similarity=round(m.similarity, 4), knowledge_base_id=m.record.resolution_id, service_id=m.record.service_id,
        resolved_by=m.record.resolved_by, time_to_recovery_minutes=m.record.time_to_recovery_minutes,
        tags=m.record.tags, created_at=m.record.created_at) for m in matches])
