"""Metric ingestion: decode, validate and shape batches of points, vectorised.

Nothing here talks to Ray or storage; the API turns a request body into a
:class:`~aiops.ingest.batch.PointBatch` and hands it on.
"""
