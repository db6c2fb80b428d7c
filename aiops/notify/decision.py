"""Which channels hear of which incident state change: one notification per change and channel.

Grouping hands out :class:`~aiops.incident.model.StateChange` values (opened, root cause
known or changed, escalated, acknowledged, resolved), never signals, so a fault with thirty
signals is one ``opened`` notification, not thirty. A channel hears a change when its kind
is in ``notifications.notify_on`` and the incident is at least as severe as the channel's
``min_severity`` (severity never falls, so a channel that heard ``opened`` hears
``resolved``). Each notification carries an idempotency key derived from the channel, the
incident and the change's sequence number: a redelivery, or a replay of the same signals,
gives the same key, and receivers can drop what they have seen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiops.incident.model import ChangeKind, StateChange
from aiops.notify.channels import AlertmanagerChannel, SlackChannel, WebhookChannel
from aiops.notify.settings import NotificationSettings

Channel = AlertmanagerChannel | WebhookChannel | SlackChannel


@dataclass(frozen=True)
class Notification:
    """Tell ``channel_id`` about ``change``; receivers dedupe on ``idempotency_key``."""

    channel_id: str
    change: StateChange
    idempotency_key: str

    @property
    def incident_id(self) -> str:
        return self.change.incident.incident_id


def idempotency_key(channel_id: str, change: StateChange) -> str:
    """Stable per (channel, incident, state change): ``ntf-`` and 32 hex digits."""
    incident = change.incident
    key = f"{channel_id}\x00{incident.tenant_id}\x00{incident.incident_id}\x00{change.event.seq}\x00{change.kind}"
    return "ntf-" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def notifications_for(changes: Iterable[StateChange], channels: Mapping[str, Channel],
                      settings: NotificationSettings) -> list[Notification]:
    """The notifications for ``changes`` (in order) to the tenant's ``channels`` (id -> config, in id order)."""
    if not settings.enabled:
        return []
    wanted: frozenset[ChangeKind] = frozenset(settings.notify_on)
    out = []
    for change in changes:
        if change.kind not in wanted:
            continue
        for channel_id in sorted(channels):
            if change.incident.severity >= channels[channel_id].min_level:
                out.append(Notification(channel_id, change, idempotency_key(channel_id, change)))
    return out
