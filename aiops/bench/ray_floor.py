"""Ray and Serve started as the engine starts them, and nothing of the engine: the footprint's floor.

``python -m aiops.bench.ray_floor DATA_DIR``: a local Ray started by the engine's own
:func:`aiops.engine.connect_ray` (its ``ray.init`` options and environment: dashboard on; a
configured ``AIOPS_RAY_ADDRESS`` is refused, the floor needs a Ray of its own), Serve's
controller and proxy (``serve.start`` with :func:`aiops.engine.serve_http_options`, no
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
    if settings.ray_address:
        raise SystemExit("the floor needs a Ray of its own: unset AIOPS_RAY_ADDRESS")
    connect_ray(settings)
    serve.start(http_options=serve_http_options(settings))
    empty = EmptyActor.remote()  # type: ignore[attr-defined]  # Ray makes the class an actor class
    print(ray.get(empty.pid.remote()), flush=True)
    try:
        time.sleep(WAIT_SECONDS)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1])
