"""Shared pieces of API bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestBody(BaseModel):
    """Requests refuse unknown fields, so a typo is a 422 instead of silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    """The one error shape: ``{"error": {"code": ..., "message": ...}}``."""

    error: ErrorDetail
