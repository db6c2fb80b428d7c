"""Micro-batching: many small concurrent requests become one model call.

A caller submits a few items and gets a future; one thread takes the first waiting
request, keeps collecting until ``max_batch`` items or ``max_wait`` seconds after that
first one, calls the function once on everything, and hands each caller its rows. This is
what makes a GPU (or a CPU's BLAS) worth using for one-at-a-time requests.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np


class MicroBatcher:
    def __init__(self, fn: Callable[[list], np.ndarray], max_batch: int, max_wait: float, name: str = "batcher"):
        self._fn = fn
        self._max_batch = max(1, max_batch)
        self._max_wait = max(0.0, max_wait)
        self._requests: queue.SimpleQueue[tuple[list, Future] | None] = queue.SimpleQueue()
        self.batches = 0
        self.items = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, items: list) -> Future:
        future: Future = Future()
        if not items:
            future.set_result(self._fn([]))
            return future
        self._requests.put((list(items), future))
        return future

    def close(self) -> None:
        self._requests.put(None)

    def _run(self) -> None:
        while True:
            first = self._requests.get()
            if first is None:
                return
            batch = [first]
            size = len(first[0])
            deadline = time.monotonic() + self._max_wait
            while size < self._max_batch:
                left = deadline - time.monotonic()
                try:
                    nxt = self._requests.get(timeout=left) if left > 0 else self._requests.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._requests.put(None)  # finish this batch, then stop
                    break
                batch.append(nxt)
                size += len(nxt[0])
            self._flush(batch)

    def _flush(self, batch: list[tuple[list, Future]]) -> None:
        items = [item for request, _ in batch for item in request]
        try:
            rows = self._fn(items)
        except Exception as error:  # every caller of this batch learns why
            for _, future in batch:
                future.set_exception(error)
            return
        self.batches += 1
        self.items += len(items)
        first = 0
        for request, future in batch:
            future.set_result(rows[first:first + len(request)])
            first += len(request)
