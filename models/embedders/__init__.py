"""Text embedders for the incident memory."""
