"""The overwrite rule: a stored point is never changed (first write wins).

A batch that gives a stored point (same series, same timestamp) the value it already has
is a harmless re-send: those points are not written again, so the per-minute rollup and
usage count each point once. A batch that gives a stored point another value is refused
whole (409 naming the point), as Prometheus' TSDB refuses a duplicate sample with a
different value. Storage, the rollup (filled from the inserts) and detection (which only
ever sees delivered points, each once) therefore agree on every value.

Checking every point against storage would cost a query per batch; the common case is
cheaper. :class:`FirstWriteGuard` remembers, per tenant and series, the newest timestamp
stored or being stored; a point newer than that cannot collide with anything. Only the
other points ("maybe stored") are looked up, in storage and among the batches in flight
(checked, not yet committed). Only the one process that writes (the storage owner of
embedded chDB) may trust that memory; with a ClickHouse server several API replicas
write, so every point is looked up (and two replicas racing with conflicting values at
the same instant can still both pass: the check is exact only within one writer).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import count

import numpy as np


@dataclass(frozen=True)
class Points:
    """Columns of some points of one tenant: series ids, timestamps (ms), values."""

    series_ids: np.ndarray  # uint64
    timestamps_ms: np.ndarray  # int64
    values: np.ndarray  # float64

    def take(self, where: np.ndarray) -> Points:
        return Points(self.series_ids[where], self.timestamps_ms[where], self.values[where])

    @property
    def size(self) -> int:
        return int(self.series_ids.size)


def matching(ours: Points, theirs: Points) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(i, j)`` where ``ours[i]`` and ``theirs[j]`` are the same point (series and time).

    ``ours`` holds each point once; ``theirs`` may repeat one (a point of two batches in flight)."""
    if ours.size == 0 or theirs.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ids = np.concatenate([ours.series_ids, theirs.series_ids])
    times = np.concatenate([ours.timestamps_ms, theirs.timestamps_ms])
    side = np.concatenate([np.zeros(ours.size, np.int8), np.ones(theirs.size, np.int8)])
    order = np.lexsort((side, times, ids))  # ours before theirs among equal points
    same = (ids[order][1:] == ids[order][:-1]) & (times[order][1:] == times[order][:-1])
    left, right = order[:-1][same], order[1:][same]
    pairs = (left < ours.size) & (right >= ours.size)
    return left[pairs], right[pairs] - ours.size


@dataclass
class _Tenant:
    newest: dict[int, int] = field(default_factory=dict)  # series id -> newest ms stored or being stored
    in_flight: dict[int, Points] = field(default_factory=dict)  # batches checked, not yet committed


class FirstWriteGuard:
    """Per tenant: which points of a batch may already exist, and the batches being written.

    Callers hold the tenant's lock around :meth:`maybe_stored` ... :meth:`begin`, so no two
    batches of a tenant are checked at once; :meth:`end` may come later, from anywhere."""

    def __init__(self, *, only_writer: bool, max_series: int = 2_000_000) -> None:
        self._only_writer = only_writer
        self._max_series = max_series
        self._tenants: OrderedDict[str, _Tenant] = OrderedDict()
        self._series = 0
        self._lock = threading.Lock()
        self._tickets = count()

    def _tenant(self, tenant_id: str) -> _Tenant:
        with self._lock:
            state = self._tenants.setdefault(tenant_id, _Tenant())
            self._tenants.move_to_end(tenant_id)
            return state

    def unknown_newest(self, tenant_id: str, series_ids: np.ndarray) -> list[int]:
        """Series of the batch whose newest stored time this process does not know (look them up)."""
        if not self._only_writer:
            return []
        newest = self._tenant(tenant_id).newest
        return [int(i) for i in np.unique(series_ids) if int(i) not in newest]

    def learn_newest(self, tenant_id: str, newest: dict[int, int]) -> None:
        """What storage holds: ``series id -> newest ms`` (a series with nothing stored: absent, pass -1)."""
        if not self._only_writer:
            return
        state = self._tenant(tenant_id)
        with self._lock:
            for series, at in newest.items():
                if series not in state.newest:
                    self._series += 1
                state.newest[series] = max(at, state.newest.get(series, -1))
            self._evict()

    def maybe_stored(self, tenant_id: str, points: Points) -> np.ndarray:
        """Mask of the points that may collide with stored or in-flight points (the others are
        newer than anything of their series)."""
        if not self._only_writer:
            return np.ones(points.size, dtype=bool)
        newest = self._tenant(tenant_id).newest
        unique, inverse = np.unique(points.series_ids, return_inverse=True)
        known = np.array([newest.get(int(i), np.iinfo(np.int64).max) for i in unique], dtype=np.int64)
        return points.timestamps_ms <= known[inverse]

    def in_flight(self, tenant_id: str) -> list[Points]:
        return list(self._tenant(tenant_id).in_flight.values())

    def begin(self, tenant_id: str, points: Points) -> int:
        """These points are about to be written: later batches see them. Returns a ticket for :meth:`end`."""
        state = self._tenant(tenant_id)
        ticket = next(self._tickets)
        with self._lock:
            state.in_flight[ticket] = points
            if self._only_writer and points.size:
                order = np.argsort(points.series_ids, kind="stable")
                ids, times = points.series_ids[order], points.timestamps_ms[order]
                starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
                for series, newest in zip(ids[starts].tolist(), np.maximum.reduceat(times, starts).tolist(),
                                          strict=True):
                    if series not in state.newest:
                        self._series += 1
                    state.newest[series] = max(newest, state.newest.get(series, -1))
                self._evict()
        return ticket

    def end(self, tenant_id: str, ticket: int) -> None:
        """The write of :meth:`begin`'s points finished (committed or failed: either way, storage says)."""
        with self._lock:
            state = self._tenants.get(tenant_id)
            if state is not None:
                state.in_flight.pop(ticket, None)

    def _evict(self) -> None:
        # The least recently used tenants' memory goes first (never one with batches in flight);
        # an evicted tenant's series are simply looked up again.
        for tenant_id in list(self._tenants):
            if self._series <= self._max_series or len(self._tenants) <= 1:
                return
            state = self._tenants[tenant_id]
            if not state.in_flight:
                self._series -= len(state.newest)
                del self._tenants[tenant_id]
