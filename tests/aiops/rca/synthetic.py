"""Small synthetic microservice data for RCA tests: a lagged chain and a planted fault."""

from __future__ import annotations

import numpy as np

from aiops.rca.frame import MetricFrame


def chain(minutes: int = 90, lag: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Services a -> b -> c: b repeats a ``lag`` minutes later, c repeats b (noise adds up); d is unrelated."""
    rng = np.random.default_rng(seed)
    total = minutes + 2 * lag
    a = np.convolve(rng.normal(size=total), np.ones(3) / 3, mode="same")
    b = np.r_[rng.normal(0, 0.5, lag), a[:-lag]] + rng.normal(0, 0.15, total)
    c = np.r_[rng.normal(0, 0.5, lag), b[:-lag]] + rng.normal(0, 0.15, total)
    keep = slice(2 * lag, total)
    return {"a": 50 + 10 * a[keep], "b": 30 + 8 * b[keep], "c": 70 + 5 * c[keep],
            "d": 40 + rng.normal(0, 1, minutes)}


def fault(minutes: int = 120, fault_at: int = 100, seed: int = 0) -> dict[tuple[str, str], np.ndarray]:
    """``db`` latency jumps at ``fault_at``; callers add it to their own a minute later each.

    web calls api calls db, so api's latency is its own plus db's (one minute behind on
    this grid) and web's is its own plus api's: the symptom is as large upstream, but
    noisier. cache and queue are unrelated.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(minutes)
    db = 20 + 3 * np.sin(2 * np.pi * t / 240) + rng.normal(0, 1, minutes)
    db[fault_at:] += 40
    api = 25 + np.r_[db[0], db[:-1]] + rng.normal(0, 1, minutes)
    web = 35 + np.r_[api[0], api[:-1]] + rng.normal(0, 1.5, minutes)
    return {
        ("db", "latency_ms"): db,
        ("db", "cpu"): 30 + rng.normal(0, 1, minutes),
        ("api", "latency_ms"): api,
        ("api", "cpu"): 25 + rng.normal(0, 1, minutes),
        ("web", "latency_ms"): web,
        ("cache", "cpu"): 15 + rng.normal(0, 1, minutes),
        ("queue", "depth"): 100 + rng.normal(0, 3, minutes),
    }


def frame_of(series: dict, start: float = 1_700_000_000.0, step: float = 60.0) -> MetricFrame:
    stamps, services, metrics, values = [], [], [], []
    for key, data in series.items():
        service, metric = key if isinstance(key, tuple) else (key, "value")
        stamps += (start + step * np.arange(data.size)).tolist()
        services += [service] * data.size
        metrics += [metric] * data.size
        values += data.tolist()
    return MetricFrame.from_long(np.array(stamps), services, metrics, np.array(values), step=step)
