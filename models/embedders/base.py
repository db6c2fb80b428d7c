"""The ``Embedder`` interface: texts in, unit-length float32 vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Embedder(ABC):
    """Maps texts to L2-normalised vectors; cosine similarity is then a dot product."""

    name: str
    version: str
    dim: int

    @abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an array of shape ``(len(texts), dim)``, dtype float32, rows of unit norm."""

    @property
    def device(self) -> str:
        return "cpu"
