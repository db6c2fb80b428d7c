"""Opaque, stable page tokens for keyset paging: ``(timestamp, id)`` of a page's last row."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from aiops.errors import Unprocessable


def encode_position(at: datetime, identity: str) -> str:
    raw = json.dumps({"at": int(at.timestamp() * 1000), "id": identity}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(token: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return datetime.fromtimestamp(int(data["at"]) / 1000, UTC), str(data["id"])
    except (ValueError, KeyError, TypeError):
        raise Unprocessable("page_token: not a token this API issued") from None
