"""The actors' Ray dashboard metrics (``ray.util.metrics``), made inside each actor process.

Names start with ``aiops_``; tags are bounded (a shard or worker index, a status, a model
name). Points per tenant carry the tenant id only with ``metrics.per_tenant`` (then they
grow with tenants, never with traffic); otherwise they are counted per shard. The API's
``/metrics`` republishes the same figures from the actors' ``status`` answers, for
Prometheus servers that scrape the API and not Ray.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]


def p95(values: list[float]) -> float | None:
    return float(np.percentile(values, 95)) if values else None


class ShardMetrics:
    def __init__(self, index: int, *, per_tenant: bool = False) -> None:
        from ray.util.metrics import Counter, Gauge, Histogram

        tags = {"shard": str(index)}
        self.per_tenant = per_tenant
        self.points = Counter("aiops_watchdog_points", description="Points scored by the watchdog (by tenant only "
                              "with metrics.per_tenant).", tag_keys=("shard", "tenant") if per_tenant else ("shard",))
        self.points.set_default_tags(tags)
        self.seconds = Histogram("aiops_detection_seconds", description="Time to score one stored batch.",
                                 boundaries=SECONDS, tag_keys=("shard",))
        self.seconds.set_default_tags(tags)
        self.queue = Gauge("aiops_watchdog_queue_depth", description="Batches waiting for or in detection.",
                           tag_keys=("shard",))
        self.queue.set_default_tags(tags)

    def scored(self, tenant_id: str, points: int) -> None:
        if points > 0:  # a Ray counter refuses increments of zero
            tags = {"tenant": tenant_id} if self.per_tenant else None
            self.points.inc(points, tags=tags)  # type: ignore[arg-type]  # ray annotates tags=None as Dict[str, str]


class RcaMetrics:
    def __init__(self, index: int) -> None:
        from ray.util.metrics import Counter, Gauge, Histogram

        tags = {"worker": str(index)}
        self.seconds = Histogram("aiops_rca_seconds", description="Time to run one root-cause analysis.",
                                 boundaries=SECONDS, tag_keys=("worker", "status"))
        self.seconds.set_default_tags(tags)
        self.results = Counter("aiops_rca_results", description="Analyses finished, by status.",
                               tag_keys=("worker", "status"))
        self.results.set_default_tags(tags)
        self.queue = Gauge("aiops_rca_queue_depth", description="Queued analyses this worker should take.",
                           tag_keys=("worker",))
        self.queue.set_default_tags(tags)


class VectorizerMetrics:
    def __init__(self, index: int) -> None:
        from ray.util.metrics import Counter

        self.texts = Counter("aiops_embedded_texts", description="Texts embedded, by model.",
                             tag_keys=("vectorizer", "model"))
        self.texts.set_default_tags({"vectorizer": str(index)})

    def counted(self, model: str, embed: Callable[[list], np.ndarray]) -> Callable[[list], np.ndarray]:
        def run(texts: list) -> np.ndarray:
            vectors = embed(texts)
            if texts:
                self.texts.inc(len(texts), tags={"model": model})
            return vectors

        return run
