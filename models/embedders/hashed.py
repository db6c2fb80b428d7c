"""Hashed character n-grams: a tiny lexical embedder with no weights to load.

Not a substitute for a sentence model (it matches spelling, not meaning), but it starts
instantly, needs no files, and gives an engine whose model files are missing a working
incident search; it is also the second embedder that proves swapping and re-embedding.

>>> e = HashedNgramEmbedder(HashedNgramEmbedder.Config())
>>> v = e.embed(["disk full on db-1", "db-1 disk is full", "tls certificate expired"])
>>> bool(v[0] @ v[1] > v[0] @ v[2])
True
"""

from __future__ import annotations

import hashlib

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.embedders.base import Embedder


class HashedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str = "cpu"  # accepted for a uniform vectorizer call; always CPU
    batch_size: int = Field(64, ge=1, le=4096)
    dim: int = Field(512, ge=16, le=8192)
    n: int = Field(3, ge=1, le=8, description="characters per n-gram")


class HashedNgramEmbedder(Embedder):
    Config = HashedConfig
    name = "hashed_ngrams"
    version = "1"

    def __init__(self, config: HashedConfig) -> None:
        self.config = config
        self.dim = config.dim

    def _bucket(self, gram: str) -> tuple[int, float]:
        digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if value >> 63 else -1.0

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        n = self.config.n
        for row, text in enumerate(texts):
            padded = f" {' '.join(text.lower().split())} "
            for i in range(max(1, len(padded) - n + 1)):
                index, sign = self._bucket(padded[i:i + n])
                out[row, index] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)
