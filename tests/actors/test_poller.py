"""The incident manager's and notifier's background pass: woken at once, a failing pass counts as idle."""

from __future__ import annotations

from actors.poller import Poller
from tests.conftest import wait_for


def test_a_wake_up_passes_at_once_and_a_failed_pass_is_kept_as_the_last_error() -> None:
    calls: list[int] = []

    def work() -> int:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("storage unreachable")
        return 1

    poller = Poller("test", work, poll=600.0, idle_poll=600.0)  # no pass for ten minutes unless woken
    poller.start()
    try:
        poller.wake()
        wait_for(lambda: len(calls) == 1, timeout=10, what="the woken pass")
        assert poller.run_once() == 0 and poller.last_error == "storage unreachable"
        assert poller.run_once() == 1
    finally:
        poller.stop()
