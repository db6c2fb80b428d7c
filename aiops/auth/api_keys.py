"""API keys: ``isage_`` + 32 random bytes, stored only as a SHA-256 hash and a short prefix.

The key carries 256 bits of entropy, so a fast hash is safe (no password stretching
needed) and keeps the per-request check cheap. The full key exists only in the create
response.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "isage_"
KEY_ID_PREFIX = "isage_key_"
DISPLAY_CHARS = 10  # "isage_" + 4 characters of the random part


class Scope(StrEnum):
    INGESTION = "ingestion"
    READ = "read"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class NewKey:
    key_id: str
    api_key: str  # shown once, never stored
    prefix: str
    key_hash: str


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def looks_like_key(credential: str) -> bool:
    return credential.startswith(KEY_PREFIX) and not credential.startswith(KEY_ID_PREFIX)


def generate_key() -> NewKey:
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(
        key_id=KEY_ID_PREFIX + secrets.token_hex(8),
        api_key=api_key,
        prefix=api_key[:DISPLAY_CHARS],
        key_hash=hash_key(api_key),
    )
