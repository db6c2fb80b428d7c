"""``GET /api/v1/models`` and ``PUT /api/v1/models/{kind}``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from aiops.schemas.common import RequestBody


class ModelOut(BaseModel):
    kind: str
    name: str
    summary: str
    active: bool


class ModelList(BaseModel):
    models: list[ModelOut]
    active: dict[str, str]


class ModelChoice(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    config: dict[str, Any] = {}


class ModelChosen(BaseModel):
    kind: str
    name: str
    config: dict[str, Any]
    chosen_at: datetime
    warmed_up_on_points: int = 0  # detectors: stored points the new model learned from
    reembedded: int = 0  # embedders: the tenant's resolutions embedded again with the new model
