"""Streaming anomaly detectors: many series at once, one step at a time."""
