"""Plain columnar telemetry types the models read: metrics on a grid, spans, log records.

Nothing here knows where the data came from (ClickHouse, OTLP, an offline case folder):
the live engine and ``aiops eval rca`` build the same objects, so the same model code runs.
"""

from models.telemetry.logs import LogTable
from models.telemetry.metrics import MetricFrame
from models.telemetry.spans import SpanTable

__all__ = ["LogTable", "MetricFrame", "SpanTable"]
