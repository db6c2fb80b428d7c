"""``/api/v1/apikeys``: a tenant's API keys. The full key is shown once, at creation."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from aiops.auth.api_keys import generate_key
from aiops.errors import NotFound, Unprocessable
from aiops.schemas.apikeys import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyPublic
from aiops.storage.records import ApiKeyRecord
from deployments.deps import Ctx, KeyManager
from deployments.routing import AuthorizedRoute

router = APIRouter(prefix="/api/v1/apikeys", tags=["api keys"], route_class=AuthorizedRoute)


def public(key: ApiKeyRecord) -> ApiKeyPublic:
    return ApiKeyPublic(
        key_id=key.key_id, name=key.name, scope=key.scope, prefix=key.prefix, rate_limit_rps=key.rate_limit_rps,
        created_at=key.created_at, expires_at=key.expires_at, last_used_at=key.last_used_at,
    )


@router.post("", response_model=ApiKeyCreated, status_code=201)
async def create_key(body: ApiKeyCreate, identity: KeyManager, context: Ctx) -> ApiKeyCreated:
    ceiling = context.settings.auth.max_key_rate_limit_rps
    if body.rate_limit_rps > ceiling:
        raise Unprocessable(f"rate_limit_rps: at most {ceiling:g}")
    new = generate_key()
    now = datetime.now(UTC)
    await context.store.aio.create_api_key(
        ApiKeyRecord(
            tenant_id=identity.tenant_id, key_id=new.key_id, name=body.name, scope=body.scope.value,
            prefix=new.prefix, key_hash=new.key_hash, rate_limit_rps=body.rate_limit_rps, created_at=now,
            created_by=identity.user_id, expires_at=body.expires_at,
        )
    )
    return ApiKeyCreated(key_id=new.key_id, api_key=new.api_key, scope=body.scope, created_at=now)


@router.get("", response_model=ApiKeyList)
async def list_keys(identity: KeyManager, context: Ctx) -> ApiKeyList:
    keys = await context.store.aio.list_api_keys(identity.tenant_id)
    return ApiKeyList(api_keys=[public(key) for key in keys])


@router.delete("/{key_id}", status_code=204, response_class=Response)
async def revoke_key(key_id: str, identity: KeyManager, context: Ctx) -> Response:
    if not await context.store.aio.revoke_api_key(identity.tenant_id, key_id, datetime.now(UTC)):
        raise NotFound(f"API key {key_id!r} not found")
    context.auth.keys.forget_all()  # this replica at once; others within key_cache_seconds
    return Response(status_code=204)
