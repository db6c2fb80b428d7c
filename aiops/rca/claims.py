"""Who runs a queued RCA request, and when it is given up: the durable queue's claim policy.

Requests are ``rca_results`` rows. A ``pending`` request belongs to the worker its anomaly
id hashes to (rendezvous over the pool), or to any worker once its row is older than the
claim timeout (its owner is gone). A ``running`` request was claimed: its claimant retakes
it after a restart (a claim made before the worker started is a claim of its dead self),
and any worker takes it once the claim is older than the timeout. A request claimed more
than ``max_attempts`` times fails instead of killing workers forever.

Pure policy over a request and a time, so it is tested with a hand-moved clock instead of
killing workers or back-dating rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiops.sharding import shard_for
from aiops.storage.records import RcaRecord


@dataclass(frozen=True)
class ClaimPolicy:
    index: int  # this worker's index in the pool
    workers: int  # the pool's size
    claim_timeout: timedelta  # a claim (or a pending row) older than this is anyone's
    max_attempts: int  # claims before a request fails
    started_at: datetime  # when this worker (this incarnation of it) started

    def mine(self, key: str) -> bool:
        """Whether ``key`` (an anomaly id, a tenant id) hashes to this worker."""
        return shard_for(key, self.workers) == self.index

    def takes(self, request: RcaRecord, now: datetime) -> bool:
        """Whether this worker should run ``request`` at ``now``."""
        stale = now - request.updated_at > self.claim_timeout
        if request.status == "pending":
            return self.mine(request.anomaly_id) or stale
        # "running": claimed by someone. Retake it if that was me before a restart, or it is stale.
        return (request.worker == self.index and request.updated_at < self.started_at) or stale

    def gives_up(self, request: RcaRecord) -> bool:
        """Whether claiming ``request`` once more would exceed ``max_attempts``."""
        return request.attempts + 1 > self.max_attempts
