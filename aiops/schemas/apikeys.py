"""API key bodies (reference: API Keys). The full key appears only in ``ApiKeyCreated``."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field, field_validator

from aiops.auth.api_keys import Scope
from aiops.schemas.common import RequestBody


class ApiKeyCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    scope: Scope
    rate_limit_rps: float = Field(100.0, gt=0)
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware_and_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if value <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return value


class ApiKeyCreated(BaseModel):
    key_id: str
    api_key: str
    scope: Scope
    created_at: datetime


class ApiKeyPublic(BaseModel):
    key_id: str
    name: str
    scope: Scope
    prefix: str
    rate_limit_rps: float
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyPublic]
