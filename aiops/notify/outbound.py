"""From a notification to the HTTP request that delivers it (pure: nothing is sent here).

The sender (the notifier actor, later) takes an :class:`OutboundRequest`, checks
``url`` with :func:`aiops.notify.targets.check_target`, connects to the vetted address
(:meth:`aiops.notify.targets.Target.pinned`), posts ``body`` with ``headers``, and on
failure asks :class:`aiops.notify.retry.RetryPolicy` when to try again. A webhook's
signature is made per attempt (its timestamp is the attempt's), so a retry an hour later
is not refused as a replay; the body and idempotency key stay the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from aiops.incident.model import Incident
from aiops.notify.alertmanager import ResendTiming, alert_labels, postable_alerts
from aiops.notify.channels import AlertmanagerChannel, SlackChannel, WebhookChannel
from aiops.notify.decision import Notification
from aiops.notify.settings import NotificationSettings
from aiops.notify.slack import slack_body
from aiops.notify.webhook import IDEMPOTENCY_HEADER, webhook_body, webhook_headers

USER_AGENT = "aiops-engine-notifier/1"


@dataclass(frozen=True)
class OutboundRequest:
    """One POST: where, what headers, which bytes. ``labels`` is the Alertmanager label set it posts, if any."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    labels: Mapping[str, str] | None = field(default=None)


def timing_for(channel: AlertmanagerChannel, settings: NotificationSettings) -> ResendTiming:
    return ResendTiming(channel.resend_seconds or settings.alertmanager_resend_seconds,
                        settings.alertmanager_validity_factor)


def render(notification: Notification, channel: AlertmanagerChannel | WebhookChannel | SlackChannel,
           settings: NotificationSettings, *, now: datetime,
           previous_labels: Mapping[str, str] | None = None) -> OutboundRequest:
    """The request delivering ``notification`` over ``channel`` for an attempt made at ``now``.

    ``previous_labels``: for Alertmanager, the label set last posted for this incident there."""
    change = notification.change
    common = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
    if isinstance(channel, AlertmanagerChannel):
        return _alertmanager(channel, settings, change.incident, now, previous_labels, change,
                             {**common, IDEMPOTENCY_HEADER: notification.idempotency_key})
    if isinstance(channel, WebhookChannel):
        body = webhook_body(change, notification.idempotency_key, max_members=settings.max_members_in_payload,
                            public_url=settings.public_url)
        headers = webhook_headers(channel.secret.get_secret_value(), body, int(now.timestamp()), change,
                                  notification.idempotency_key)
        return OutboundRequest(channel.url_text(), {**common, **headers}, body)
    return OutboundRequest(channel.url_text(), common, slack_body(change, public_url=settings.public_url))


def render_resend(incident: Incident, channel: AlertmanagerChannel, settings: NotificationSettings, *,
                  now: datetime, previous_labels: Mapping[str, str] | None = None) -> OutboundRequest:
    """The periodic re-post of an open incident to an Alertmanager (see :class:`ResendTiming`)."""
    return _alertmanager(channel, settings, incident, now, previous_labels, None,
                         {"User-Agent": USER_AGENT, "Content-Type": "application/json"})


def _alertmanager(channel, settings, incident, now, previous_labels, change, headers) -> OutboundRequest:
    alerts = postable_alerts(incident, now=now, timing=timing_for(channel, settings), sender=settings.sender,
                             change=change, previous_labels=previous_labels, public_url=settings.public_url)
    if channel.bearer_token is not None:
        headers = {**headers, "Authorization": f"Bearer {channel.bearer_token.get_secret_value()}"}
    return OutboundRequest(channel.alerts_url, headers, orjson.dumps(alerts),
                           alert_labels(incident, settings.sender))
