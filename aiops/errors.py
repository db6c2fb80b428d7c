"""The engine's error vocabulary: one exception per HTTP outcome, one JSON shape.

Domain code raises these; the web layer turns them into
``{"error": {"code": ..., "message": ...}}`` with the matching status in one place
(``deployments/errors.py``). Messages are written for the caller and never carry secrets.
"""

from __future__ import annotations

import math
from typing import Any


class ApiError(Exception):
    """An error a caller can act on. Subclasses fix the status and code."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one error shape every endpoint answers with."""
    return {"error": {"code": code, "message": message}}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str = "missing or invalid credentials") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class RequestTimeout(ApiError):
    """The request (its head or body) did not arrive in time; the connection is closed after the answer."""

    status, code = 408, "request_timeout"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Connection": "close"})


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class Unprocessable(ApiError):
    status, code = 422, "invalid"


class _RetryLater(ApiError):
    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        # Whole seconds, at least 1; "never" (a request larger than the bucket) caps at an hour.
        seconds = 3600 if not math.isfinite(retry_after) else max(1, min(3600, math.ceil(retry_after)))
        super().__init__(message, headers={"Retry-After": str(seconds)})
        self.retry_after = seconds


class RateLimited(_RetryLater):
    status, code = 429, "rate_limited"


class Unavailable(_RetryLater):
    status, code = 503, "unavailable"
