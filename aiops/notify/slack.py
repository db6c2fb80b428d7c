"""An incident state change as a Slack incoming-webhook message (``text`` plus Block Kit ``blocks``).

``text`` is the fallback shown in notifications; blocks carry the details. Service names
and people's names come from users, so they are escaped for Slack's mrkdwn (``&``, ``<``,
``>``: otherwise ``<!channel>`` in a service name would ping a whole channel) and cut to
Block Kit's limits (header 150 characters, a field 2,000, a section 3,000). Incoming
webhooks have no idempotency key: a retried delivery can show twice.
"""

from __future__ import annotations

import orjson

from aiops.incident.model import StateChange
from aiops.notify.describe import headline, incident_url, summary

HEADER_CHARS, FIELD_CHARS, SECTION_CHARS = 150, 2000, 3000


def escape(text: str) -> str:
    """Slack mrkdwn / plain text escaping of the three control characters.

    >>> escape("<!channel> & co")
    '&lt;!channel&gt; &amp; co'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def slack_message(change: StateChange, *, public_url: str | None = None) -> dict:
    """The message body (JSON-ready)."""
    incident = change.incident
    title = f"[{incident.severity.label.upper()}] {headline(change)}"
    fields = [("Status", incident.status.value), ("Severity", incident.severity.label),
              ("Root cause", incident.root_cause or "not known yet"),
              ("Signals", f"{len(incident.members)} on {len(incident.services)} services")]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(escape(title), HEADER_CHARS)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(escape(summary(incident)), SECTION_CHARS)},
         "fields": [{"type": "mrkdwn", "text": _cut(f"*{name}*\n{escape(value)}", FIELD_CHARS)}
                    for name, value in fields]},
    ]
    if incident.blast_radius:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            "*Blast radius*: " + escape(", ".join(incident.blast_radius)), SECTION_CHARS)}})
    if incident.suggested_fix:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            "*Suggested fix* (from a similar past incident): " + escape(incident.suggested_fix), SECTION_CHARS)}})
    context = f"{incident.incident_id} · tenant {escape(incident.tenant_id)}"
    url = incident_url(public_url, incident)
    if url:
        context += f" · <{url}|open>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, FIELD_CHARS)}]})
    return {"text": _cut(escape(f"{title}: {summary(incident)}"), SECTION_CHARS), "blocks": blocks}


def slack_body(change: StateChange, *, public_url: str | None = None) -> bytes:
    return orjson.dumps(slack_message(change, public_url=public_url))
