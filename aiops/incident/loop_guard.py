"""The loop guard: recognise an alert the engine sent itself, so it never opens a new incident.

The engine posts each open incident to an Alertmanager (:mod:`aiops.notify.alertmanager`)
with two labels: ``aiops_sender`` (this engine's marker) and ``aiops_incident_id``. When
that Alertmanager routes the alert back to the engine's webhook on 9093, the intake asks
:func:`engine_incident_id` and hands the alert on as a signal with ``sent_by_engine``;
grouping attaches it to its incident (counted as an echo) instead of opening a new one.

An alert counts as the engine's own when its ``aiops_sender`` label is this engine's
marker, or when it has no ``aiops_sender`` label but a well-formed ``aiops_incident_id``
(a relabelling that dropped the marker). An alert marked by *another* engine is an
ordinary alert to this one. The labels can be forged by whoever may send alerts to the
tenant; the worst a forger gets is that its own alert is attached to an incident of its
own tenant, or ignored.

>>> labels = engine_labels("inc-0123456789abcdef")
>>> engine_incident_id(labels)
'inc-0123456789abcdef'
>>> engine_incident_id({"alertname": "HighLatency"}) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SENDER_LABEL = "aiops_sender"
INCIDENT_LABEL = "aiops_incident_id"
DEFAULT_SENDER = "aiops-engine"
INCIDENT_ID = re.compile(r"inc-[0-9a-f]{16}")


def engine_labels(incident_id: str, sender: str = DEFAULT_SENDER) -> dict[str, str]:
    """The labels that mark an alert as this engine's, about ``incident_id``."""
    return {SENDER_LABEL: sender, INCIDENT_LABEL: incident_id}


def sent_by_engine(labels: Mapping[str, str], sender: str = DEFAULT_SENDER) -> bool:
    """Whether an alert with these labels is one this engine (marker ``sender``) sent."""
    marker = labels.get(SENDER_LABEL)
    if marker is not None:
        return marker == sender
    return INCIDENT_ID.fullmatch(labels.get(INCIDENT_LABEL, "")) is not None


def engine_incident_id(labels: Mapping[str, str], sender: str = DEFAULT_SENDER) -> str | None:
    """The incident an alert of this engine's is about; ``None`` for other alerts or a malformed id."""
    if not sent_by_engine(labels, sender):
        return None
    incident_id = labels.get(INCIDENT_LABEL, "")
    return incident_id if INCIDENT_ID.fullmatch(incident_id) else None
