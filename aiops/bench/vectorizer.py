"""Embedding throughput of the default embedder: one text at a time, batches of 64, and
64 concurrent one-text callers through the vectorizers' micro-batcher; on CPU, and on
CUDA too when torch sees a GPU."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from aiops.batching import MicroBatcher
from aiops.bench.report import BenchResult
from aiops.settings import load_settings
from models.registry import build

TEXTS = [f"payment-api latency above {100 + i} ms; database connection pool exhausted on node {i % 7}"
         for i in range(512)]


def _rate(embed, texts: list[str], per_call: int, seconds: float = 3.0) -> float:
    embed(texts[:per_call])  # warm-up
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        first = done % (len(texts) - per_call)
        embed(texts[first:first + per_call])
        done += per_call
    return done / (time.perf_counter() - began)


def _micro_batched(embedder, settings) -> float:
    batcher = MicroBatcher(embedder.embed, 64, settings.vectorizer.flush_ms / 1000.0)
    try:
        with ThreadPoolExecutor(64) as pool:
            list(pool.map(lambda t: batcher.submit([t]).result(), TEXTS[:64]))  # warm-up
            began = time.perf_counter()
            list(pool.map(lambda t: batcher.submit([t]).result(), TEXTS))
            return len(TEXTS) / (time.perf_counter() - began)
    finally:
        batcher.close()


def run() -> BenchResult:
    import torch

    settings = load_settings()
    result = BenchResult("vectorizer")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        embedder = build("embedder", settings.vectorizer.model, {"device": device, "batch_size": 64})
        name = f"{embedder.name} on {device}"
        result.add(f"{name}, batch 1", _rate(embedder.embed, TEXTS, 1), "texts/s")
        result.add(f"{name}, batch 64", _rate(embedder.embed, TEXTS, 64), "texts/s")
        result.add(f"{name}, 64 concurrent callers, micro-batched", _micro_batched(embedder, settings), "texts/s",
                   note=f"flush at 64 texts or {settings.vectorizer.flush_ms:g} ms")
    return result
