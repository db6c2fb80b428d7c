"""``vectorizer-<n>``: turns incident texts into embeddings, on a GPU when it was given one.

One per watchdog shard, serving the tenants hashed onto that shard. Calls are
micro-batched (:class:`~aiops.batching.MicroBatcher`: flush at ``vectorizer.batch_size``
texts or ``vectorizer.flush_ms`` after the first). Each tenant embeds with its chosen
embedder (``PUT /api/v1/models/embedder``); a background thread embeds the tenant's
resolutions that have no embedding of that model yet: ones stored while no vectorizer
answered, and all of them after a swap (re-embedding). So a resolution is never lost
for want of a vectorizer: it is stored first and embedded when one can.

The default model loads on a background thread so the actor answers ``status`` at once.
The device follows what Ray granted: CUDA only when this actor holds a GPU id *and*
torch sees CUDA (a CPU actor on a GPU node can still see every GPU).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import replace

import numpy as np
import ray

from aiops.batching import MicroBatcher
from aiops.dashboard import VectorizerMetrics
from aiops.logs import configure_engine_logging
from aiops.settings import Settings
from aiops.sharding import shard_for
from aiops.storage.gateway import StoreGateway
from models.registry import build

log = logging.getLogger(__name__)

CHOICE_CACHE_SECONDS = 2.0
BACKLOG_BATCH = 64


def choose_device() -> str:
    import torch

    gpu_ids = ray.get_gpu_ids() if ray.is_initialized() else []
    return "cuda" if gpu_ids and torch.cuda.is_available() else "cpu"


class Vectorizer:
    def __init__(self, settings: Settings, index: int, cpu_threads: int = 1) -> None:
        import torch

        torch.set_num_threads(max(1, cpu_threads))
        self._settings = settings
        configure_engine_logging(settings)
        self._index = index
        self._device = choose_device()
        self._store = StoreGateway.for_settings(settings)
        self._embedders: dict[str, object] = {}
        self._dashboard = VectorizerMetrics(index)
        self._batchers: dict[str, MicroBatcher] = {}
        self._lock = threading.Lock()
        self._choices: dict[str, tuple[float, str, dict]] = {}
        self._error: str | None = None
        self._embedded_backlog = 0
        self._loaded = threading.Event()
        self._stopping = threading.Event()
        threading.Thread(target=self._load_default, name="load-embedder", daemon=True).start()

    # -- models ----------------------------------------------------------------------------
    def _load_default(self) -> None:
        # Loading is seconds of CPU; at the lowest priority it yields to everything that
        # makes the engine ready (this thread only: Linux niceness is per thread).
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError:
            pass
        try:
            self._embedder(self._settings.vectorizer.model, {})
        except Exception as error:  # reported through status, not swallowed
            self._error = f"{type(error).__name__}: {error}"
        finally:
            self._loaded.set()
        threading.Thread(target=self._backlog_forever, name="embed-backlog", daemon=True).start()

    def _embedder(self, name: str, config: dict):
        key = f"{name}:{json.dumps(config, sort_keys=True)}"
        with self._lock:
            if key not in self._embedders:
                settings = {"device": self._device, "batch_size": self._settings.vectorizer.batch_size, **config}
                embedder = build("embedder", name, settings)
                self._embedders[key] = embedder
                vectorizer = self._settings.vectorizer
                counted = self._dashboard.counted(name, embedder.embed)
                self._batchers[key] = MicroBatcher(counted, vectorizer.batch_size,
                                                   vectorizer.flush_ms / 1000.0, name=f"batch-{name}")
            return self._embedders[key], self._batchers[key]

    def _choice(self, tenant_id: str) -> tuple[str, dict]:
        cached = self._choices.get(tenant_id)
        if cached and time.monotonic() - cached[0] < CHOICE_CACHE_SECONDS:
            return cached[1], cached[2]
        chosen = self._store.sync.model_choices(tenant_id).get("embedder")
        name, config = (chosen[0], json.loads(chosen[1] or "{}")) if chosen else (self._settings.vectorizer.model, {})
        self._choices[tenant_id] = (time.monotonic(), name, config)
        return name, config

    # -- embedding -------------------------------------------------------------------------
    def embed(self, texts: list[str], model: str | None = None) -> np.ndarray:
        """Unit vectors for ``texts`` with ``model`` (default: ``vectorizer.model``), micro-batched."""
        self._loaded.wait()
        _, batcher = self._embedder(model or self._settings.vectorizer.model, {})
        return batcher.submit(list(texts)).result()

    def embed_for_tenant(self, tenant_id: str, texts: list[str]) -> tuple[str, str, np.ndarray]:
        """``(model name, model version, vectors)`` with the tenant's chosen embedder."""
        self._loaded.wait()
        name, config = self._choice(tenant_id)
        embedder, batcher = self._embedder(name, config)
        return name, embedder.version, batcher.submit(list(texts)).result()

    def embed_backlog(self, tenant_id: str) -> int:
        """Embed the tenant's resolutions that lack an embedding of its current model; how many."""
        done = 0
        while not self._stopping.is_set():
            name, config = self._choice(tenant_id)
            rows = self._store.sync.resolutions_to_embed(tenant_id, name, BACKLOG_BATCH)
            if not rows:
                break
            embedder, batcher = self._embedder(name, config)
            vectors = batcher.submit([r.resolution for r in rows]).result()
            for row, vector in zip(rows, vectors, strict=True):
                self._store.sync.save_resolution(replace(row, embedding=vector.tolist(), embedding_model=name,
                                                        embedding_version=embedder.version))
            done += len(rows)
        self._embedded_backlog += done
        return done

    def forget_choice(self, tenant_id: str) -> int:
        """After a swap: drop the cached choice and re-embed the tenant's resolutions now."""
        self._choices.pop(tenant_id, None)
        return self.embed_backlog(tenant_id)

    def _backlog_forever(self) -> None:
        shards = self._settings.watchdog.shards
        while not self._stopping.wait(self._settings.incidents.pending_scan_seconds):
            try:
                for tenant_id in self._store.sync.resolution_backlog_tenants(self._settings.vectorizer.model):
                    if shard_for(tenant_id, shards) == self._index:
                        self.embed_backlog(tenant_id)
            except Exception as error:  # storage restarting: try again next round
                log.warning("vectorizer %d backlog: %s", self._index, error)

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping.set()

    def status(self) -> dict:
        if not self._loaded.is_set():
            state = "starting"
        else:
            state = "running" if self._embedders else "failed"
        batchers = list(self._batchers.values())
        return {
            "vectorizer": self._index,
            "state": state,
            "device": self._device,
            "model": self._settings.vectorizer.model,
            "error": self._error,
            "batches": sum(b.batches for b in batchers),
            "texts": sum(b.items for b in batchers),
            "backlog_embedded": self._embedded_backlog,
        }
