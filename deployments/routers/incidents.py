"""``/api/v1/incidents``: the tenant's incidents (grouped signals), one incident whole, acknowledge and resolve.

Reads come from storage (the incident manager's snapshots); acknowledge and resolve go
through the ``incident-manager-0`` actor, which owns grouping. Another tenant's ids are 404.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from aiops.errors import Conflict, NotFound
from aiops.incident.codec import event_to_dict, signal_to_dict
from aiops.incident.grouping import IncidentConflict, IncidentNotFound
from aiops.incident.model import Incident, Severity
from aiops.incident_memory import match_to_dict
from aiops.notify.describe import anchor_service, memory_queries
from aiops.paging import decode_position, encode_position
from aiops.schemas.incidents import IncidentDetail, IncidentList, IncidentOut, IncidentPatch
from deployments.deps import Ctx, Reader, Writer
from deployments.routing import AuthorizedRoute
from deployments.timeparams import query_time

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], route_class=AuthorizedRoute)

IncidentId = Annotated[str, Path(min_length=1, max_length=64)]
SIMILAR_TIMEOUT_SECONDS = 3.0


def public(i: Incident) -> IncidentOut:
    return IncidentOut(
        incident_id=i.incident_id, status=i.status.value, severity=i.severity.label, opened_at=i.opened_at,
        updated_at=i.updated_at, resolved_at=i.resolved_at, started_at=i.started_at, root_cause=i.root_cause,
        blast_radius=list(i.blast_radius), services=list(i.services), members=len(i.members),
        acknowledged_by=i.acknowledged_by, resolved_by=i.resolved_by, merged_into=i.merged_into,
    )


@router.get("", response_model=IncidentList)
async def list_incidents(
    identity: Reader,
    context: Ctx,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged|resolved)$")] = None,
    service_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    since: Annotated[datetime | None, Query(description="RFC3339; bounds opened_at")] = None,
    until: Annotated[datetime | None, Query(description="RFC3339; bounds opened_at")] = None,
    min_severity: Annotated[str | None, Query(pattern="^(info|warning|error|critical)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> IncidentList:
    after = decode_position(page_token) if page_token else None
    page = await context.store.aio.list_incidents(
        identity.tenant_id, status=status, service_id=service_id, since=query_time("since", since),
        until=query_time("until", until), min_severity=int(Severity.parse(min_severity)) if min_severity else None,
        limit=limit, after=after,
    )
    token = encode_position(*page.next_after) if page.next_after else None
    return IncidentList(incidents=[public(i) for i in page.incidents], total=page.total, page_token=token)


async def _similar(context: Ctx, tenant_id: str, incident: Incident) -> list[dict]:
    """Resolved past incidents like this one, with their fixes (the incident memory); [] when it is not answering."""
    try:
        memory = context.engine.incident_memory()
        matches = await asyncio.wait_for(memory.similar(tenant_id, memory_queries(incident), anchor_service(incident),
                                                        exclude_incident=incident.incident_id),
                                         SIMILAR_TIMEOUT_SECONDS)
    except Exception as error:  # the vectorizer not answering costs the page this section only
        log.info("similar incidents unavailable for %s: %s", incident.incident_id, error)
        return []
    return [match_to_dict(m) for m in matches]


@router.get("/{incident_id}", response_model=IncidentDetail)
async def get_incident(incident_id: IncidentId, identity: Reader, context: Ctx) -> IncidentDetail:
    incident = await context.store.aio.get_incident(identity.tenant_id, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id!r} not found")
    attempts = await context.store.aio.delivery_attempts(identity.tenant_id, incident_id)
    anchor = min(incident.members, key=lambda m: (m.started_at, m.signal_id))
    rca = {"anomaly_id": anchor.signal_id, "root_cause": incident.root_cause,
           "blast_radius": list(incident.blast_radius), "suggested_fix": incident.suggested_fix}
    return IncidentDetail(
        **public(incident).model_dump(), member_signals=[signal_to_dict(m) for m in incident.members],
        rca=rca, timeline=[event_to_dict(e) for e in incident.timeline],
        similar_incidents=await _similar(context, identity.tenant_id, incident),
        deliveries=[{"notification_id": a.notification_id, "channel_id": a.channel_id, "change": a.change_kind,
                     "attempt": a.attempt, "at": a.at, "status_code": a.status_code or None, "outcome": a.outcome,
                     "error": a.error or None} for a in attempts],
        echoes=incident.echoes,
    )


@router.patch("/{incident_id}", response_model=IncidentOut)
async def change_incident(incident_id: IncidentId, body: IncidentPatch, identity: Writer,
                          context: Ctx) -> IncidentOut:
    """Acknowledge or resolve, recording who (``by``, else the caller)."""
    if await context.store.aio.get_incident(identity.tenant_id, incident_id) is None:
        raise NotFound(f"incident {incident_id!r} not found")
    by = body.by or identity.user_id
    change = (context.engine.acknowledge_incident if body.status == "acknowledged"
              else context.engine.resolve_incident)
    try:
        incident = await change(identity.tenant_id, incident_id, by)
    except IncidentNotFound:
        raise NotFound(f"incident {incident_id!r} not found") from None
    except IncidentConflict as conflict:
        raise Conflict(str(getattr(conflict, "cause", None) or conflict)) from None  # Ray wraps the actor's error
    return public(incident)
