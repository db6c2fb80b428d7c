"""Hypothesis settings shared by the property tests: repeatable (derandomized, no example
database) so CI runs the same examples every time, and no deadlines (a loaded two-core
machine makes timing noise, and speed targets live in ``aiops bench``)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# In-process properties: cheap examples, many of them.
PROPERTY = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
# Properties against real storage (chDB): each example a few queries.
STORAGE_PROPERTY = settings(PROPERTY, max_examples=40)
# Properties through the running engine: each example is a real HTTP round trip.
ENGINE_PROPERTY = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                           suppress_health_check=list(HealthCheck))
