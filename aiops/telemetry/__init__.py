"""What the engine derives from OpenTelemetry spans and logs, minute by minute.

``health`` names the series that spans and log records become; ``templates`` mines log
templates (Drain); ``rollup`` finds closed minutes, computes them once and hands the
series to the ordinary ingestion path. The actor ``telemetry-rollup-<n>`` runs it.
"""
