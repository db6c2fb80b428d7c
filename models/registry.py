"""A lazy name registry: ``kind`` + ``name`` -> model class, imported only when chosen.

A JSON or YAML setting swaps a model without code changes, and a process that never
embeds never imports torch's text stack.

Models from outside the repository: an installed Python package declares its models as
entry points in the groups ``aiops.detectors``, ``aiops.rankers`` and ``aiops.embedders``
(``name = "package.module:Class"``); they are registered on first use of the registry,
still imported only when chosen, and the conformance suite checks them like the built-in
ones. A package cannot take a built-in model's name (it is skipped with a warning).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import warnings
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class ModelEntry:
    kind: str
    name: str
    target: str  # "package.module:ClassName"
    summary: str

    def load(self) -> type[Any]:
        module_name, _, class_name = self.target.partition(":")
        return getattr(importlib.import_module(module_name), class_name)


_ENTRIES: dict[tuple[str, str], ModelEntry] = {}

ENTRY_POINT_GROUPS = {"detector": "aiops.detectors", "ranker": "aiops.rankers", "embedder": "aiops.embedders"}
_discovered = False
_FROM_PACKAGES: set[tuple[str, str]] = set()  # entries discover() added (the rest are built in)


def register(kind: str, name: str, target: str, summary: str) -> None:
    _ENTRIES[(kind, name)] = ModelEntry(kind, name, target, summary)


def discover(*, refresh: bool = False) -> list[ModelEntry]:
    """Register the models installed packages declare as entry points; returns those added.

    Runs once per process (``refresh`` looks again, e.g. after installing a package). Only
    the entry points' names and targets are read: nothing is imported until a model is built.
    """
    global _discovered
    if _discovered and not refresh:
        return []
    _discovered = True
    added = []
    for kind, group in ENTRY_POINT_GROUPS.items():
        for point in importlib.metadata.entry_points(group=group):
            package = point.dist.name if point.dist is not None else "an unnamed package"
            if (kind, point.name) in _ENTRIES and (kind, point.name) not in _FROM_PACKAGES:
                warnings.warn(f"{package} declares a {kind} named {point.name!r}, a built-in model's name; "
                              "it is ignored", UserWarning, stacklevel=2)
                continue
            _ENTRIES[(kind, point.name)] = ModelEntry(kind, point.name, point.value,
                                                      f"from the installed package {package}")
            _FROM_PACKAGES.add((kind, point.name))
            added.append(_ENTRIES[(kind, point.name)])
    return added


def entries(kind: str | None = None) -> list[ModelEntry]:
    discover()
    return [entry for (k, _), entry in sorted(_ENTRIES.items()) if kind is None or k == kind]


def entry(kind: str, name: str) -> ModelEntry:
    discover()
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
    "(the previous default)",
)
register(
    "detector",
    "seasonal_multiscale",
    "models.detectors.seasonal_multiscale:SeasonalMultiscaleDetector",
    "seasonal deviations of points and of 6-hour blocks through HTM's anomaly likelihood, new extremes, "
    "spikes, a rest (the watchdog's default)",
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
    "and log lines, error logs) fused into one ranking; as baro when only the metrics speak (the RCA default)",
)
