"""Offline evaluation: the published scoring methods the engine's models are measured by."""
