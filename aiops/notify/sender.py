"""Delivering the outbox: at least once, with retries and backoff, to vetted addresses only.

:class:`Notifier` is what the ``notifier`` actor runs. Each pass (:meth:`Notifier.run_once`)
takes the due rows of the durable outbox (``notification_outbox``, written by the incident
manager), renders each for its channel (:func:`aiops.notify.outbound.render`; a webhook is
signed per attempt), checks the URL against the allow-list again (DNS may have changed since
the channel was created: :func:`aiops.notify.targets.check_target`), connects to the vetted
address only, and records the attempt with the row's new state: ``delivered`` on 2xx,
``pending`` with a later ``next_attempt_at`` on a retryable failure
(:class:`aiops.notify.retry.RetryPolicy`), ``failed`` otherwise. A row is only marked
delivered after the receiver answered, so a restart between the two resends it: receivers
dedupe on the idempotency key (``Idempotency-Key``).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from pydantic import ValidationError

from aiops.clock import SYSTEM_CLOCK, Clock
from aiops.incident.codec import change_from_dict
from aiops.incident.model import (
    ChangeKind,
    EventKind,
    Incident,
    IncidentStatus,
    Severity,
    Signal,
    SignalKind,
    StateChange,
    TimelineEvent,
)
from aiops.notify.channels import AlertmanagerChannel, parse_channel
from aiops.notify.decision import Notification
from aiops.notify.outbound import render, render_resend
from aiops.notify.retry import RetryPolicy, parse_retry_after, retryable
from aiops.notify.targets import OutboundPolicy, TargetRefused, check_target
from aiops.settings import Settings
from aiops.storage.outbox import DELIVERED, FAILED, PENDING, AttemptRow, OutboxRow

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 300


def _kind(error: Exception) -> str:
    """What was wrong, without quoting the stored values (a channel's fields may hold a secret):
    the exception's type, and for a validation error the fields it names."""
    if isinstance(error, ValidationError):
        fields = sorted({".".join(str(part) for part in detail["loc"]) for detail in error.errors()})
        return f"ValidationError in {', '.join(fields) or 'the body'}"
    return type(error).__name__


class _Unreadable(Exception):
    """An outbox row or its channel does not parse: the attempt fails without a retry."""


class Notifier:
    """Delivers due outbox rows of every tenant; not thread-safe (one pass at a time)."""

    def __init__(self, settings: Settings, store, rng: random.Random | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._settings = settings
        self._clock = clock  # due rows, attempt times and the retry schedule
        self._notify = settings.notifications
        self._store = store
        self._policy = OutboundPolicy.from_settings(self._notify.outbound, settings.mode)
        self._retry = RetryPolicy(self._notify.retry)
        self._rng = rng or random.Random()
        # No redirects (one could lead anywhere) and no proxy from the environment (it would see the URL, a
        # Slack token, and connect to the name, not the vetted address): see aiops.notify.targets.
        self._client = httpx.Client(timeout=self._notify.request_timeout_seconds, follow_redirects=False,
                                    trust_env=False)
        # The first re-post comes one period after start (a restart re-posts within one period).
        self._next_resend = self._clock.now() + timedelta(seconds=self._notify.alertmanager_resend_seconds)
        self.delivered = 0
        self.failed = 0
        self.retried = 0

    def close(self) -> None:
        self._client.close()

    def run_once(self, limit: int = 200) -> int:
        """Attempt every due notification once (and re-post open incidents to Alertmanagers when due)."""
        self.resend_alertmanager()
        due = self._store.due_notifications(self._clock.now(), limit)
        channels: dict[str, dict] = {}
        for row in due:
            if row.tenant_id not in channels:
                channels[row.tenant_id] = {c.channel_id: c for c in self._store.list_channels(row.tenant_id)}
            self._attempt(row, channels[row.tenant_id].get(row.channel_id))
        return len(due)

    def _attempt(self, row: OutboxRow, stored) -> None:
        now = self._clock.now()
        first = row.first_attempt_at or now
        attempt = row.attempts + 1
        status, error, retry_after = 0, "", None
        began = time.monotonic()  # a measured latency, not a policy: the OS clock
        if stored is None:
            outcome, error = "failed", "the channel was deleted"
        else:
            try:
                try:
                    channel = parse_channel(orjson.loads(stored.config))
                    change = change_from_dict(orjson.loads(row.change))
                    request = render(Notification(row.channel_id, change, row.notification_id), channel,
                                     self._notify, now=now)
                except (ValueError, KeyError, TypeError) as unreadable:
                    # A row or channel this version cannot read (stored by an older one) would fail
                    # every pass and hold up the rows behind it: it fails once, recorded, instead.
                    raise _Unreadable(f"unreadable channel or notification: {_kind(unreadable)}") from None
                target = check_target(request.url, self._policy)
                url, host, extensions = target.pinned()
                response = self._client.post(url, content=request.body, headers={**request.headers, **host},
                                             extensions=extensions)
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
                outcome = "delivered" if 200 <= status < 300 else ("retry" if retryable(status) else "failed")
                if outcome != "delivered":
                    error = f"answered {status}"
            except TargetRefused as refused:
                outcome, error = "refused", str(refused)
            except _Unreadable as unreadable:
                outcome, error = "failed", str(unreadable)
            except httpx.HTTPError as failure:
                outcome, error = "retry", f"{type(failure).__name__}: {failure}"
            except ValueError as broken:  # a stored channel no longer valid, a header that cannot be sent:
                # never again; the exception's text may quote a secret, so only its kind is kept.
                outcome, error = "failed", f"the channel cannot be sent to ({type(broken).__name__})"
        elapsed_ms = 1000 * (time.monotonic() - began)
        next_at = row.next_attempt_at
        if outcome == "retry":
            when = self._retry.next_attempt_at(first, attempt, now, self._rng, retry_after)
            if when is None:
                outcome = "failed"
                error += f" (gave up after {attempt} attempts)"
            else:
                next_at = when
        state = {"delivered": DELIVERED, "retry": PENDING}.get(outcome, FAILED)
        updated = replace(row, state=state, attempts=attempt, first_attempt_at=first, next_attempt_at=next_at,
                          delivered_at=now if state == DELIVERED else None, last_error=error[:MAX_ERROR_CHARS])
        self._store.record_delivery(updated, AttemptRow(row.tenant_id, row.incident_id, row.notification_id,
                                                        row.channel_id, row.change_kind, attempt, now, status,
                                                        outcome, error[:MAX_ERROR_CHARS], elapsed_ms),
                                    self._clock.now())
        self.delivered += state == DELIVERED
        self.failed += state == FAILED
        self.retried += outcome == "retry"
        if state != DELIVERED:
            log.info("notification %s to %s: %s (%s)", row.notification_id, row.channel_id, outcome, error)

    def resend_alertmanager(self, force: bool = False) -> int:
        """Every ``alertmanager_resend_seconds``, re-post each tenant's open incidents to its Alertmanagers.

        Alertmanager resolves an alert whose ``endsAt`` passed (each post is valid for
        ``alertmanager_validity_factor`` resend periods), so open incidents are sent again, as
        Prometheus re-sends firing alerts. Best effort: a failed re-post is logged and the next
        period tries again. Returns the alerts posted."""
        now = self._clock.now()
        if not force and now < self._next_resend:
            return 0
        self._next_resend = now + timedelta(seconds=self._notify.alertmanager_resend_seconds)
        posted = 0
        for row in self._store.channels_of_type("alertmanager"):
            try:
                channel = parse_channel(orjson.loads(row.config))
                if not isinstance(channel, AlertmanagerChannel):
                    continue
                incidents = [i for status in ("open", "acknowledged")
                             for i in self._store.list_incidents(row.tenant_id, status=status, limit=1000).incidents
                             if i.severity >= channel.min_level]
                if not incidents:
                    continue
                requests = [render_resend(i, channel, self._notify, now=now) for i in incidents]
                alerts = [alert for request in requests for alert in orjson.loads(request.body)]
                target = check_target(requests[0].url, self._policy)
                url, host, extensions = target.pinned()
                response = self._client.post(url, content=orjson.dumps(alerts),
                                             headers={**requests[0].headers, **host}, extensions=extensions)
                response.raise_for_status()
                posted += len(alerts)
            except (httpx.HTTPError, TargetRefused, ValueError) as error:
                log.info("re-posting open incidents of %s to %s failed: %s", row.tenant_id, row.channel_id, error)
        return posted

    def status(self) -> dict:
        return {"delivered": self.delivered, "failed": self.failed, "retried": self.retried}


def test_change(tenant_id: str, channel_id: str, now: datetime):
    """A made-up ``opened`` change of a test incident (``inc-`` + zeros), for "send a test" on a channel."""
    member = Signal(tenant_id, "test-signal", SignalKind.ALERTMANAGER_ALERT, "aiops-test", now,
                    severity=Severity.INFO, labels={"alertname": "AIOpsNotificationTest"})
    event = TimelineEvent(0, now, EventKind.OPENED, "test-signal", "aiops-test", Severity.INFO)
    incident = Incident(tenant_id, "inc-0000000000000000", IncidentStatus.OPEN, now, now, None, Severity.INFO,
                        (member,), (event,), revision=0)
    return StateChange(ChangeKind.OPENED, incident, event)


async def send_test(channel, channel_id: str, tenant_id: str,
                    settings: Settings) -> tuple[bool, int | None, str | None]:
    """Deliver one test notification now (not through the outbox): ``(delivered, status, error)``."""
    now = datetime.now(UTC)
    change = test_change(tenant_id, channel_id, now)
    request = render(Notification(channel_id, change, f"ntf-test-{int(now.timestamp())}"), channel,
                     settings.notifications, now=now)
    target = check_target(request.url, OutboundPolicy.from_settings(settings.notifications.outbound, settings.mode))
    url, host, extensions = target.pinned()
    try:
        async with httpx.AsyncClient(timeout=settings.notifications.request_timeout_seconds,
                                     follow_redirects=False, trust_env=False) as client:
            response = await client.post(url, content=request.body, headers={**request.headers, **host},
                                         extensions=extensions)
    except httpx.HTTPError as failure:
        return False, None, f"{type(failure).__name__}: {failure}"[:MAX_ERROR_CHARS]
    ok = 200 <= response.status_code < 300
    return ok, response.status_code, None if ok else f"answered {response.status_code}"
