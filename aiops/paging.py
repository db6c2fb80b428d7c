"""Opaque, stable page tokens for keyset paging: ``(timestamp, id)`` of a page's last row."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from aiops.errors import Unprocessable
from aiops.text import is_text


def encode_position(at: datetime, identity: str) -> str:
    raw = json.dumps({"at": int(at.timestamp() * 1000), "id": identity}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# What storage's DateTime64(3) holds (1900-2299): a token outside it was not issued here.
EARLIEST_MS = int(datetime(1900, 1, 2, tzinfo=UTC).timestamp() * 1000)
LATEST_MS = int(datetime(2299, 12, 30, tzinfo=UTC).timestamp() * 1000)
MAX_ID_CHARS = 128


def decode_position(token: str) -> tuple[datetime, str]:
    """A page token -> its position; 422 for anything this API could not have issued
    (not base64 JSON, wrong types, a time outside what storage holds, an overlong id)."""
    refused = Unprocessable("page_token: not a token this API issued")
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, RecursionError):
        raise refused from None
    if not isinstance(data, dict) or set(data) != {"at", "id"}:
        raise refused
    at, identity = data["at"], data["id"]
    if type(at) is not int or not EARLIEST_MS <= at <= LATEST_MS:
        raise refused
    if not isinstance(identity, str) or not 0 < len(identity) <= MAX_ID_CHARS or not is_text(identity):
        raise refused
    return datetime.fromtimestamp(at / 1000, UTC), identity
