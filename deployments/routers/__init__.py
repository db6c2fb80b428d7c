"""One router per resource."""

from __future__ import annotations

from typing import Any

from aiops.schemas.common import ErrorResponse

_DESCRIPTIONS = {
    400: "Malformed body",
    401: "Invalid credentials",
    403: "Not allowed",
    422: "Invalid input",
    503: "Not ready or overloaded",
    409: "Conflict",
    413: "Body or batch too large",
    415: "Wrong Content-Type or Content-Encoding",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers a route adds to the common ones."""
    return {code: {"model": ErrorResponse, "description": _DESCRIPTIONS[code]} for code in codes}
