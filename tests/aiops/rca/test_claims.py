"""The RCA queue's claim policy with a hand-moved clock: ownership, claim timeout, restarts, attempts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from aiops.clock import ManualClock
from aiops.rca.claims import ClaimPolicy
from aiops.sharding import shard_for
from aiops.storage.records import RcaRecord

TIMEOUT = timedelta(seconds=300)


def policies(clock: ManualClock, workers: int = 3) -> list[ClaimPolicy]:
    return [ClaimPolicy(index, workers, TIMEOUT, 3, clock.now()) for index in range(workers)]


def pending(clock: ManualClock, anomaly_id: str = "a-1") -> RcaRecord:
    return RcaRecord("t", anomaly_id, "pending", requested_at=clock.now(), updated_at=clock.now())


def test_a_fresh_request_is_taken_by_its_owner_only() -> None:
    clock = ManualClock()
    request = pending(clock)
    owner = shard_for(request.anomaly_id, 3)
    assert [policy.takes(request, clock.now()) for policy in policies(clock)] == [i == owner for i in range(3)]


def test_a_request_older_than_the_claim_timeout_is_anyones() -> None:
    clock = ManualClock()
    workers = policies(clock)
    request = pending(clock)
    clock.advance(TIMEOUT)
    assert sum(policy.takes(request, clock.now()) for policy in workers) == 1  # exactly the timeout: still owned
    clock.advance(1)
    assert all(policy.takes(request, clock.now()) for policy in workers)


def test_a_claim_is_retaken_by_its_restarted_claimant_at_once_and_by_others_after_the_timeout() -> None:
    clock = ManualClock()
    request = pending(clock)
    owner = shard_for(request.anomaly_id, 3)
    claimed = replace(request, status="running", attempts=1, worker=owner, updated_at=clock.now())
    running = policies(ManualClock(clock.now() - timedelta(seconds=10)))  # workers started before the claim
    clock.advance(1)
    assert not any(policy.takes(claimed, clock.now()) for policy in running)  # its claimant is at work on it
    restarted = policies(clock)  # every worker restarted after the claim
    assert [policy.takes(claimed, clock.now()) for policy in restarted] == [i == owner for i in range(3)]
    clock.advance(TIMEOUT)
    assert all(policy.takes(claimed, clock.now()) for policy in restarted)


def test_a_request_claimed_max_attempts_times_is_given_up() -> None:
    clock = ManualClock()
    policy = policies(clock)[0]
    request = pending(clock)
    assert not policy.gives_up(replace(request, attempts=2))
    assert policy.gives_up(replace(request, attempts=3))
