"""Signed webhooks: a receiver verifies the published scheme and refuses tampering and replays."""

from __future__ import annotations

import doctest
import hashlib
import hmac
from datetime import timedelta

import orjson
import pytest

from aiops.notify import webhook as module
from aiops.notify.channels import parse_channel
from aiops.notify.decision import notifications_for
from aiops.notify.outbound import render
from aiops.notify.settings import NotificationSettings
from aiops.notify.webhook import SIGNATURE_HEADER, SignatureInvalid, sign_payload, verify_signature

SECRET = "whsec-0123456789abcdef"
CHANNEL = parse_channel({"name": "hook", "type": "webhook", "url": "https://hooks.example.com/x", "secret": SECRET})


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def receiver_check(secret: str, headers: dict, body: bytes, now: float, tolerance: float = 300) -> dict:
    """What a receiver written from the docs alone does: parse t and v1, recompute, compare, check age."""
    fields = dict(part.split("=", 1) for part in headers[SIGNATURE_HEADER].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    assert abs(now - int(fields["t"])) <= tolerance
    return orjson.loads(body)


@pytest.fixture
def delivery(changes):
    settings = NotificationSettings()
    [first, *_] = notifications_for(changes, {"ch-1": CHANNEL}, settings)
    sent_at = first.change.event.at + timedelta(seconds=2)
    return first, sent_at, render(first, CHANNEL, settings, now=sent_at)


def test_a_receiver_following_the_docs_verifies_the_delivery(delivery) -> None:
    notification, sent_at, request = delivery
    document = receiver_check(SECRET, dict(request.headers), request.body, sent_at.timestamp() + 1)
    assert document["idempotency_key"] == notification.idempotency_key == request.headers["Idempotency-Key"]
    assert document["change"]["kind"] == "opened" and document["incident"]["incident_id"] == notification.incident_id
    assert request.headers["X-AIOps-Event"] == "opened" and request.url == "https://hooks.example.com/x"
    assert verify_signature(SECRET, request.headers[SIGNATURE_HEADER], request.body,
                            now=sent_at.timestamp() + 1) == int(sent_at.timestamp())


def test_a_replay_later_is_refused(delivery) -> None:
    _, sent_at, request = delivery
    with pytest.raises(SignatureInvalid, match="replay"):
        verify_signature(SECRET, request.headers[SIGNATURE_HEADER], request.body, now=sent_at.timestamp() + 301)
    with pytest.raises(SignatureInvalid, match="replay"):  # from the future too
        verify_signature(SECRET, request.headers[SIGNATURE_HEADER], request.body, now=sent_at.timestamp() - 301)


def test_tampering_and_wrong_secrets_are_refused(delivery) -> None:
    _, sent_at, request = delivery
    now = sent_at.timestamp()
    header = request.headers[SIGNATURE_HEADER]
    with pytest.raises(SignatureInvalid, match="matches"):
        verify_signature(SECRET, header, request.body.replace(b"opened", b"resolved"), now=now)
    with pytest.raises(SignatureInvalid, match="matches"):
        verify_signature("another-secret-entirely", header, request.body, now=now)
    # Moving the timestamp forward to dodge the replay check breaks the signature.
    moved = header.replace(f"t={int(now)}", f"t={int(now) + 400}")
    with pytest.raises(SignatureInvalid, match="matches"):
        verify_signature(SECRET, moved, request.body, now=now + 400)
    for bad, reason in ((None, "no X-AIOps"), ("v1=abc", "no t="), (f"t={int(now)}", "no v1="),
                        ("t=soon,v1=abc", "whole unix seconds")):
        with pytest.raises(SignatureInvalid, match=reason):
            verify_signature(SECRET, bad, request.body, now=now)


def test_any_matching_v1_is_enough_for_secret_rotation() -> None:
    body = b"{}"
    old = sign_payload("old-secret-0123456789", body, 1000)
    new = sign_payload("new-secret-0123456789", body, 1000)
    both = f"{new},v1={old.split('v1=')[1]}"
    assert verify_signature("old-secret-0123456789", both, body, now=1000) == 1000


def test_a_retry_is_signed_afresh_with_the_same_body_and_key(delivery) -> None:
    notification, sent_at, request = delivery
    later = render(notification, CHANNEL, NotificationSettings(), now=sent_at + timedelta(hours=2))
    assert later.body == request.body and later.headers["Idempotency-Key"] == request.headers["Idempotency-Key"]
    assert later.headers[SIGNATURE_HEADER] != request.headers[SIGNATURE_HEADER]
    verify_signature(SECRET, later.headers[SIGNATURE_HEADER], later.body,
                     now=(sent_at + timedelta(hours=2)).timestamp())
