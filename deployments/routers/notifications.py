"""``/api/v1/notifications/channels``: where a tenant's incidents are sent (admins only).

Create answers 201 with the ``channel_id``; URLs and secrets are never shown again (a
prefix only). A URL the operator's allow-list refuses (``notifications.outbound``) is 422
at creation, and checked again at every delivery.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Path
from pydantic import ValidationError

from aiops.errors import Conflict, NotFound, Unprocessable
from aiops.notify.channels import (
    CHANNEL_CONFIG,
    ChannelPublic,
    channel_to_storage,
    describe_problems,
    parse_channel,
    public_view,
    stored_view,
)
from aiops.notify.sender import send_test
from aiops.notify.targets import OutboundPolicy, check_target
from aiops.schemas.incidents import ChannelTestResult
from aiops.storage.outbox import ChannelRow
from deployments.deps import Admin, Ctx
from deployments.routing import AuthorizedRoute

router = APIRouter(prefix="/api/v1/notifications/channels", tags=["notifications"], route_class=AuthorizedRoute)

ChannelId = Annotated[str, Path(min_length=1, max_length=64)]


def _inlined(schema: dict) -> dict:
    """A JSON schema with its ``$defs`` written in where they are referenced (OpenAPI has no ``$defs``)."""
    defs = schema.pop("$defs", {})

    def walk(node: object) -> object:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items() if not (k == "discriminator" and isinstance(v, dict))}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)  # type: ignore[return-value]


# The create body in the OpenAPI document: one schema per channel type. The route parses the
# body itself (parse_channel) so that a refusal names the field without pydantic's union path.
CREATE_BODY = {"required": True, "content": {"application/json": {"schema": _inlined(CHANNEL_CONFIG.json_schema())}}}




async def _channel(context: Ctx, tenant_id: str, channel_id: str):
    rows = await context.store.aio.list_channels(tenant_id)
    row = next((r for r in rows if r.channel_id == channel_id), None)
    if row is None:
        raise NotFound(f"channel {channel_id!r} not found")
    try:
        return row, parse_channel(orjson.loads(row.config))
    except ValueError:  # a row this version refuses (ValidationError, bad JSON): say what, as the list does
        problem = stored_view(row.channel_id, row.name, row.type, row.config).problem
        raise Conflict(f"channel {channel_id!r}: {problem}; delete it and create it again") from None


@router.post("", status_code=201, response_model=ChannelPublic, openapi_extra={"requestBody": CREATE_BODY})
async def create_channel(identity: Admin, context: Ctx, body: Annotated[dict, Body()]) -> ChannelPublic:
    """``{"name", "type": "alertmanager" | "webhook" | "slack", "url", ...}`` -> the channel, masked."""
    try:
        channel = parse_channel(body)
    except ValidationError as error:
        raise Unprocessable(describe_problems(error)) from None
    settings = context.settings
    check_target(channel.url_text(), OutboundPolicy.from_settings(settings.notifications.outbound, settings.mode))
    now = datetime.now(UTC)
    channel_id = "ch-" + secrets.token_hex(8)  # random: two creates of one name at one instant are two channels
    row = ChannelRow(identity.tenant_id, channel_id, channel.name, channel.type,
                     orjson.dumps(channel_to_storage(channel)).decode(), now)
    # Count and save in one storage call: concurrent creates cannot pass the cap together.
    held = await context.store.aio.add_channel(row, now, settings.notifications.max_channels_per_tenant)
    if held is not None:
        raise Conflict(f"the tenant has {held} channels, the most it may "
                       "(notifications.max_channels_per_tenant); delete one first")
    return public_view(channel_id, channel)


@router.get("")
async def list_channels(identity: Admin, context: Ctx) -> dict:
    rows = await context.store.aio.list_channels(identity.tenant_id)
    return {"channels": [stored_view(r.channel_id, r.name, r.type, r.config).model_dump() for r in rows]}


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(channel_id: ChannelId, identity: Admin, context: Ctx) -> None:
    if not await context.store.aio.delete_channel(identity.tenant_id, channel_id, datetime.now(UTC)):
        raise NotFound(f"channel {channel_id!r} not found")


@router.post("/{channel_id}/test", response_model=ChannelTestResult)
async def test_channel(channel_id: ChannelId, identity: Admin, context: Ctx) -> ChannelTestResult:
    """Send one made-up notification now; answers whether the receiver took it."""
    _, channel = await _channel(context, identity.tenant_id, channel_id)
    delivered, status, error = await send_test(channel, channel_id, identity.tenant_id, context.settings)
    return ChannelTestResult(channel_id=channel_id, delivered=delivered, status_code=status, error=error)
