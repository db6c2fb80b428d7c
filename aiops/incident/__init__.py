"""Incidents: signals grouped into one incident per real problem (pure domain, no storage or Ray).

- :mod:`aiops.incident.model`: signals, incidents, timeline events, state changes.
- :mod:`aiops.incident.graph`: the service graph grouping walks.
- :mod:`aiops.incident.grouping`: the grouper (join, merge, resolve, RCA re-run decisions).
- :mod:`aiops.incident.loop_guard`: recognising the engine's own alerts coming back.
- :mod:`aiops.incident.settings`: the grouping settings.

Not to be confused with :mod:`aiops.incident_memory`, the incident memory (past resolutions).
"""
