"""Example models for the AIOps Engine, shipped as their own package."""
