"""Group commit: concurrent writers share writes, and each learns its own outcome."""

from __future__ import annotations

import threading

import pytest

from aiops.storage.group_commit import GroupCommit


def test_concurrent_submissions_share_writes() -> None:
    writes: list[list[int]] = []
    first_write_started = threading.Event()
    release_first_write = threading.Event()

    def write(items: list[int]) -> None:
        writes.append(items)
        if len(writes) == 1:
            first_write_started.set()
            release_first_write.wait(10)

    commit = GroupCommit(write)
    leader = threading.Thread(target=commit.submit, args=(0,))
    leader.start()
    assert first_write_started.wait(10)
    followers = [threading.Thread(target=commit.submit, args=(i,)) for i in range(1, 6)]
    for thread in followers:
        thread.start()
    # The followers queue behind the leader's write; poll until all are queued.
    for _ in range(1000):
        with commit._lock:  # noqa: SLF001 - observing the queue is the point of this test
            if len(commit._queue) == 5:  # noqa: SLF001
                break
        threading.Event().wait(0.01)
    release_first_write.set()
    for thread in [leader, *followers]:
        thread.join(10)
    assert writes[0] == [0]
    assert sorted(writes[1]) == [1, 2, 3, 4, 5]  # one write for everything that queued meanwhile


def test_errors_reach_every_writer_of_the_group() -> None:
    def write(items: list[int]) -> None:
        raise RuntimeError(f"disk full for {items}")

    commit = GroupCommit(write)
    with pytest.raises(RuntimeError, match="disk full"):
        commit.submit(1)
    commit2 = GroupCommit(lambda items: None)
    commit2.submit(2)  # a fresh committer writes normally
