"""Signed JSON webhooks: the body, the ``X-AIOps-Signature`` header, and the check receivers run.

The header is ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`` (the
scheme Stripe documents for its webhooks). Signing the timestamp with the body lets a
receiver refuse a captured request replayed later: :func:`verify_signature` refuses
timestamps more than ``tolerance`` seconds from its clock, and receivers drop repeats
within that window by ``Idempotency-Key``. Several ``v1=`` entries may appear (a sender
rotating secrets); one matching is enough. Comparison is constant-time.

>>> body = b'{"event":"opened"}'
>>> header = sign_payload("a-secret-of-16-chars", body, 1767225600)
>>> header.startswith("t=1767225600,v1=")
True
>>> verify_signature("a-secret-of-16-chars", header, body, now=1767225630)
1767225600
"""

from __future__ import annotations

import hashlib
import hmac

import orjson

from aiops.incident.model import StateChange
from aiops.notify.describe import headline, incident_document, rfc3339

SIGNATURE_HEADER = "X-AIOps-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-AIOps-Event"
PAYLOAD_VERSION = "1"


class SignatureInvalid(ValueError):
    """A webhook's signature did not check out; the message says which part."""


def webhook_body(change: StateChange, idempotency_key: str, *, max_members: int = 50,
                 public_url: str | None = None) -> bytes:
    """The raw JSON body (compact, keys sorted: the same change gives the same bytes)."""
    event = change.event
    document = {
        "version": PAYLOAD_VERSION,
        "idempotency_key": idempotency_key,
        "change": {"kind": change.kind.value, "event": event.kind.value, "seq": event.seq, "at": rfc3339(event.at),
                   "by": event.by, "headline": headline(change)},
        "incident": incident_document(change.incident, max_members=max_members, public_url=public_url),
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def _mac(secret: str | bytes, timestamp: int, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign_payload(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The ``X-AIOps-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(secret: str | bytes, header: str | None, body: bytes, *, now: float,
                     tolerance: float = 300) -> int:
    """Check a received webhook; return its timestamp, or raise :class:`SignatureInvalid`.

    ``body`` must be the raw bytes as received (not re-serialised JSON); ``now`` the
    receiver's clock (unix seconds); signatures older or newer than ``tolerance`` seconds
    are refused (replays)."""
    if not header:
        raise SignatureInvalid(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            if not value.isdigit() or len(value) > 12:
                raise SignatureInvalid("the t= timestamp is not whole unix seconds")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None:
        raise SignatureInvalid("no t= timestamp")
    if not candidates:
        raise SignatureInvalid("no v1= signature")
    if abs(now - timestamp) > tolerance:
        raise SignatureInvalid(f"timestamp {timestamp} is more than {tolerance:g} s from now ({now:.0f}): "
                               "a replay, or a clock far off")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureInvalid("no v1= signature matches the body under this secret")
    return timestamp


def webhook_headers(secret: str | bytes, body: bytes, timestamp: int, change: StateChange,
                    idempotency_key: str) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign_payload(secret, body, timestamp),
            IDEMPOTENCY_HEADER: idempotency_key, EVENT_HEADER: change.kind.value}
