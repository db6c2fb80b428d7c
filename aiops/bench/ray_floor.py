"""Ray and Serve started as the engine starts them, and nothing of the engine: the footprint's floor.

``python -m aiops.bench.ray_floor DATA_DIR``: a local Ray with the engine's ``ray.init`` options
and environment (:func:`aiops.engine.local_ray_options`, :data:`aiops.engine.QUIET_RAY_ENV`:
dashboard on), Serve's controller and proxy (``serve.start`` as the engine calls it, no
application), and one actor that does nothing, so the bench can tell what any actor process
costs before it runs anything. Prints that actor's pid, then waits until interrupted (its exit
stops the Ray it started). Used by :mod:`aiops.bench.footprint`.
"""

from __future__ import annotations

import os
import sys
import time

import ray
from ray import serve

from aiops.engine import QUIET_RAY_ENV, local_ray_options
from aiops.settings import load_settings


@ray.remote(num_cpus=0)
class EmptyActor:
    """An actor with nothing in it."""

    def pid(self) -> int:
        return os.getpid()


def main(data_dir: str) -> None:
    settings = load_settings(data_dir=data_dir)
    for name, value in QUIET_RAY_ENV.items():
        os.environ.setdefault(name, value)
    ray.init(**local_ray_options(settings))
    serve.start(http_options={"host": "127.0.0.1", "port": settings.http_port})
    empty = EmptyActor.remote()  # type: ignore[attr-defined]  # Ray makes the class an actor class
    print(ray.get(empty.pid.remote()), flush=True)
    try:
        time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1])
