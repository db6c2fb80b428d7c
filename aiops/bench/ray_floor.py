"""Ray and Serve started as the engine starts them, and nothing of the engine: the footprint's floor.

``python -m aiops.bench.ray_floor DATA_DIR``: a local Ray with the engine's ``ray.init`` options
and environment (:func:`aiops.engine.local_ray_options`, :data:`aiops.engine.QUIET_RAY_ENV`:
dashboard on), Serve's controller and proxy (``serve.start`` as the engine calls it, no
application), and one actor that does nothing, so the bench can tell what any actor process
costs before it runs anything. Prints that actor's pid, then waits until interrupted or for
``WAIT_SECONDS`` (its exit stops the Ray it started). Used by :mod:`aiops.bench.footprint`.
"""

from __future__ import annotations

import os
import sys
import time

import ray
from ray import serve

from aiops.engine import connect_ray, serve_http_options
from aiops.settings import load_settings

WAIT_SECONDS = 600.0
"""How long the driver keeps Ray up when nobody interrupts it (the bench needs about two minutes)."""


@ray.remote(num_cpus=0)
class EmptyActor:
    """An actor with nothing in it."""

    def pid(self) -> int:
        return os.getpid()


def main(data_dir: str) -> None:
    settings = load_settings(data_dir=data_dir)
    if not connect_ray(settings):
        raise SystemExit("the floor needs a Ray of its own: unset AIOPS_RAY_ADDRESS")
    serve.start(http_options=serve_http_options(settings))
    empty = EmptyActor.remote()  # type: ignore[attr-defined]  # Ray makes the class an actor class
    print(ray.get(empty.pid.remote()), flush=True)
    try:
        time.sleep(WAIT_SECONDS)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1])
