"""Re-export: ``MetricFrame`` now lives in :mod:`models.telemetry.metrics` (plain types sit under ``models/``)."""

from models.telemetry.metrics import MetricFrame

__all__ = ["MetricFrame"]
