"""One notification per incident state change and channel, never one per signal; stable idempotency keys."""

from __future__ import annotations

from aiops.incident.model import ChangeKind
from aiops.notify.channels import parse_channel
from aiops.notify.decision import idempotency_key, notifications_for
from aiops.notify.settings import NotificationSettings
from tests.aiops.notify.conftest import cascade_changes

CHANNELS = {
    "ch-hook": parse_channel({"name": "hook", "type": "webhook", "url": "https://hooks.example.com/aiops",
                              "secret": "0123456789abcdef0123"}),
    "ch-slack": parse_channel({"name": "pager", "type": "slack", "min_severity": "critical",
                               "url": "https://hooks.slack.com/services/T0/B0/abcdefabcdef"}),
}


def test_five_signals_make_five_state_changes_not_one_notice_per_signal(changes) -> None:
    assert [c.kind for c in changes] == [ChangeKind.OPENED, ChangeKind.ESCALATED, ChangeKind.ESCALATED,
                                         ChangeKind.ROOT_CAUSE_KNOWN, ChangeKind.RESOLVED]
    sent = notifications_for(changes, {"ch-hook": CHANNELS["ch-hook"]}, NotificationSettings())
    assert [n.change.kind for n in sent] == [c.kind for c in changes]
    assert len({n.idempotency_key for n in sent}) == len(sent)
    assert {n.incident_id for n in sent} == {changes[0].incident.incident_id}


def test_channels_hear_only_the_kinds_asked_for_and_severe_enough_incidents(changes) -> None:
    settings = NotificationSettings(notify_on=(ChangeKind.OPENED, ChangeKind.ESCALATED, ChangeKind.RESOLVED))
    sent = notifications_for(changes, CHANNELS, settings)
    by_channel = {cid: [n.change.kind for n in sent if n.channel_id == cid] for cid in CHANNELS}
    assert by_channel["ch-hook"] == [ChangeKind.OPENED, ChangeKind.ESCALATED, ChangeKind.ESCALATED,
                                     ChangeKind.RESOLVED]
    # The critical-only channel first hears of the incident when it became critical, then its end.
    assert by_channel["ch-slack"] == [ChangeKind.ESCALATED, ChangeKind.RESOLVED]
    assert notifications_for(changes, CHANNELS, NotificationSettings(enabled=False)) == []


def test_idempotency_keys_survive_a_replay_and_differ_per_channel(changes) -> None:
    again = cascade_changes()
    assert [idempotency_key("ch-hook", c) for c in changes] == [idempotency_key("ch-hook", c) for c in again]
    assert idempotency_key("ch-hook", changes[0]) != idempotency_key("ch-slack", changes[0])
    assert all(idempotency_key("ch-hook", c).startswith("ntf-") for c in changes)
