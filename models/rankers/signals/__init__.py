"""Per-service evidence from each modality, in one shape the combined ranker fuses.

Each function reads one kind of telemetry for one anomaly (a window and its start) and
returns :class:`Signal` objects: a non-negative score per service (how strongly that
service's own behaviour changed, in the signal's units) and the evidence behind it.
"""

from models.rankers.signals.base import Signal

__all__ = ["Signal"]
