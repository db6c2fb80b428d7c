"""Slack messages: fallback text, Block Kit limits, and user text escaped."""

from __future__ import annotations

import doctest
from dataclasses import replace

import orjson

from aiops.notify import slack as module
from aiops.notify.channels import parse_channel
from aiops.notify.decision import notifications_for
from aiops.notify.outbound import render
from aiops.notify.settings import NotificationSettings
from aiops.notify.slack import slack_message

URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def test_a_message_per_change_with_text_and_blocks(changes) -> None:
    channel = parse_channel({"name": "ops", "type": "slack", "url": URL})
    settings = NotificationSettings(public_url="https://aiops.example.com")
    [first, *_] = notifications_for(changes, {"ch": channel}, settings)
    request = render(first, channel, settings, now=first.change.event.at)
    message = orjson.loads(request.body)
    assert request.url == URL and message["text"].startswith("[WARNING] Incident opened")
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "context"]
    assert "<https://aiops.example.com/api/v1/incidents/inc-" in message["blocks"][-1]["elements"][0]["text"]
    known = slack_message(changes[3])
    assert "*Blast radius*: cart, api, web" in orjson.dumps(known).decode()


def test_service_names_cannot_ping_a_channel_and_long_text_is_cut(changes) -> None:
    incident = changes[3].incident
    hostile = replace(changes[3], incident=replace(incident, root_cause="<!channel>" + "x" * 500,
                                                   blast_radius=("<@U123>",)))
    message = slack_message(hostile)
    text = orjson.dumps(message).decode()
    assert "<!channel>" not in text and "<@U123>" not in text and "&lt;!channel&gt;" in text
    assert len(message["blocks"][0]["text"]["text"]) <= 150
