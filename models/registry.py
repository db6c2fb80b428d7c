"""A lazy name registry: ``kind`` + ``name`` -> model class, imported only when chosen.

A JSON or YAML setting swaps a model without code changes, and a process that never
embeds never imports torch's text stack.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class ModelEntry:
    kind: str
    name: str
    target: str  # "package.module:ClassName"
    summary: str

    def load(self) -> type:
        module_name, _, class_name = self.target.partition(":")
        return getattr(importlib.import_module(module_name), class_name)


_ENTRIES: dict[tuple[str, str], ModelEntry] = {}


def register(kind: str, name: str, target: str, summary: str) -> None:
    _ENTRIES[(kind, name)] = ModelEntry(kind, name, target, summary)


def entries(kind: str | None = None) -> list[ModelEntry]:
    return [entry for (k, _), entry in sorted(_ENTRIES.items()) if kind is None or k == kind]


def entry(kind: str, name: str) -> ModelEntry:
    try:
        return _ENTRIES[(kind, name)]
    except KeyError:
        known = ", ".join(e.name for e in entries(kind)) or "none"
        raise KeyError(f"no {kind} model named {name!r} (known: {known})") from None


def build(kind: str, name: str, config: dict[str, Any] | BaseModel | None = None) -> Any:
    """Instantiate a registered model from its config (a dict is validated first)."""
    cls = entry(kind, name).load()
    config_cls = cls.Config
    if config is None:
        config = config_cls()
    elif isinstance(config, dict):
        config = config_cls.model_validate(config)
    return cls(config)


register(
    "embedder",
    "minilm",
    "models.embedders.minilm:MiniLmEmbedder",
    "all-MiniLM-L6-v2 sentence embeddings (384 dims), torch on CUDA when present",
)

register(
    "detector",
    "ewma",
    "models.detectors.ewma:EwmaDetector",
    "exponentially weighted level and deviation, robust z-score",
)
register(
    "detector",
    "seasonal",
    "models.detectors.seasonal:SeasonalDetector",
    "robust statistics with daily (optionally weekly) seasonality",
)
register(
    "detector",
    "nab_ensemble",
    "models.detectors.nab_ensemble:NabEnsembleDetector",
    "level, forecast, time-of-day and volatility novelty, each against its own record; alarms once",
)

register(
    "detector",
    "artime",
    "models.detectors.artime:ArtimeDetector",
    "adaptive resonance (fuzzy ART) over Haar features of the downsampled series (ARTime)",
)
register(
    "detector",
    "contextual",
    "models.detectors.contextual:ContextualDetector",
    "novelty of the context of discretised recent values (CAD OSE family)",
)
register(
    "detector",
    "seasonal_likelihood",
    "models.detectors.seasonal_likelihood:SeasonalLikelihoodDetector",
    "daily and weekly seasonal deviations through HTM's anomaly likelihood, new extremes, spikes, a rest "
    "(the watchdog's default)",
)
register(
    "detector",
    "calibrated",
    "models.detectors.calibrated:CalibratedDetector",
    "any detector's score through HTM's anomaly likelihood, NAB's new-extreme rule and a rest after alarms",
)

register(
    "ranker",
    "baro",
    "models.rankers.deviation:BaroRanker",
    "largest median/IQR deviation after the anomaly start (BARO), onset breaks ties",
)
register(
    "ranker",
    "nsigma",
    "models.rankers.deviation:NSigmaRanker",
    "largest mean/standard-deviation deviation after the anomaly start (N-sigma)",
)
register(
    "ranker",
    "random_walk",
    "models.rankers.walk:RandomWalkRanker",
    "personalised PageRank on the reversed service graph, restarting at deviating services",
)
register(
    "embedder",
    "hashed_ngrams",
    "models.embedders.hashed:HashedNgramEmbedder",
    "hashed character trigrams (lexical, no model files), for fallback and tests",
)
register(
    "ranker",
    "multimodal",
    "models.rankers.multimodal:MultimodalRanker",
    "metric, trace and log evidence (kind-ranked metric moves, span own time, call latency, missing calls "
    "and log lines, error logs) fused into one ranking",
)
