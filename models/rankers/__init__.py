"""Root-cause rankers: given a metric frame, an anomaly start and a graph, order the services."""
