"""``vectorizer-<n>``: turns incident texts into embeddings, on a GPU when it was given one.

The model loads on a background thread so the actor answers ``status`` at once and the
engine becomes ready while weights load. The device follows what Ray granted: a CUDA
device only when this actor holds a GPU id *and* torch sees CUDA (a CPU actor on a GPU
node can still see every GPU).
"""

from __future__ import annotations

import os
import threading

import numpy as np
import ray

from aiops.settings import Settings
from models.registry import build


def choose_device() -> str:
    import torch

    gpu_ids = ray.get_gpu_ids() if ray.is_initialized() else []
    return "cuda" if gpu_ids and torch.cuda.is_available() else "cpu"


class Vectorizer:
    def __init__(self, settings: Settings, index: int, cpu_threads: int = 1) -> None:
        import torch

        torch.set_num_threads(max(1, cpu_threads))
        self._settings = settings
        self._index = index
        self._device = choose_device()
        self._embedder = None
        self._error: str | None = None
        self._loaded = threading.Event()
        threading.Thread(target=self._load, name="load-embedder", daemon=True).start()

    def _load(self) -> None:
        # Loading is seconds of CPU; at the lowest priority it yields to everything that
        # makes the engine ready (this thread only: Linux niceness is per thread).
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError:
            pass
        try:
            self._embedder = build(
                "embedder",
                self._settings.vectorizer.model,
                {"device": self._device, "batch_size": self._settings.vectorizer.batch_size},
            )
        except Exception as error:  # reported through status, not swallowed
            self._error = f"{type(error).__name__}: {error}"
        finally:
            self._loaded.set()

    def status(self) -> dict:
        if not self._loaded.is_set():
            state = "starting"
        else:
            state = "running" if self._embedder is not None else "failed"
        return {
            "vectorizer": self._index,
            "state": state,
            "device": self._device,
            "model": self._settings.vectorizer.model,
            "error": self._error,
        }

    def embed(self, texts: list[str]) -> np.ndarray:
        self._loaded.wait()
        if self._embedder is None:
            raise RuntimeError(f"embedder failed to load: {self._error}")
        return self._embedder.embed(texts)
