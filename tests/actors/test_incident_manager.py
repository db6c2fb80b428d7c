"""The incident manager's and notifier's pace: quick while signals flow, backing off while idle."""

from __future__ import annotations

from actors.directory import next_wait


def test_an_idle_loop_backs_off_doubling_to_the_idle_poll_and_work_brings_it_back() -> None:
    waits, wait = [], 0.25
    for _ in range(6):
        wait = next_wait(wait, False, 0.25, 2.0)
        waits.append(wait)
    assert waits == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert next_wait(2.0, True, 0.25, 2.0) == 0.25  # a pass that found work, or a wake-up


def test_an_idle_poll_below_the_poll_never_polls_faster_than_the_poll() -> None:
    assert next_wait(0.25, False, 1.0, 0.5) == 1.0
    assert next_wait(5.0, False, 1.0, 0.5) == 1.0
