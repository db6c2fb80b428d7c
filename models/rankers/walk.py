"""Personalised random walk over the service graph (MicroRank / CIRCA family).

Symptoms spread from the root cause along the propagation graph, so walking the graph
backwards from the deviating services, restarting in proportion to each service's own
deviation, accumulates probability at the services the symptoms point back to. Useful
when the declared topology is trustworthy; on benchmark data it tends to score below the
plain deviation ranking (see :mod:`models.rankers.deviation`) because learned edges are
noisy, which is why it is not the default.
"""

from __future__ import annotations

import networkx as nx
from pydantic import Field

from models.rankers.base import RankedCause, RootCauseRanker, by_service, deviation, shares
from models.rankers.deviation import DeviationConfig, onsets, ranked
from models.telemetry import LogTable, MetricFrame, SpanTable
from models.telemetry.graph import ServiceGraph


class WalkConfig(DeviationConfig):
    alpha: float = Field(0.85, gt=0, lt=1, description="probability of following an edge rather than restarting")
    blend: float = Field(0.5, ge=0, le=1, description="weight of the walk against the raw deviation")


class RandomWalkRanker(RootCauseRanker):
    name = "random_walk"
    Config = WalkConfig
    uses_graph = True

    def __init__(self, config: WalkConfig) -> None:
        super().__init__(config)
        self.config: WalkConfig = config

    def rank(self, frame: MetricFrame, start: float, graph: ServiceGraph | None = None, *,
             spans: SpanTable | None = None, logs: LogTable | None = None) -> list[RankedCause]:
        dev = deviation(frame, start, robust=True, relative_floor=self.config.relative_floor,
                        onset_z=self.config.onset_z)
        per_service = by_service(frame, dev, self.config.evidence)
        direct = shares({s: v[0] for s, v in per_service.items()})
        walked = dict(direct)
        if graph is not None and graph.edges and any(direct.values()):
            g = graph.graph().reverse(copy=True)  # from symptoms back towards causes
            g.add_nodes_from(direct)
            weights = {s: direct.get(s, 0.0) for s in g.nodes}
            rank = nx.pagerank(g, alpha=self.config.alpha, personalization=weights if any(weights.values()) else None,
                               weight="score")
            walked = {s: rank.get(s, 0.0) for s in direct}
        blend = self.config.blend
        score = {s: (1 - blend) * direct[s] + blend * walked.get(s, 0.0) for s in direct}
        return ranked(per_service, score, onsets(frame, dev, self.config.tie_ratio), self.config.tie_ratio, graph)
