"""Swappable models: plain Python (numpy / torch), no Ray, each with one config object.

Find them by name through :mod:`models.registry`; heavy imports load only when chosen.
"""
