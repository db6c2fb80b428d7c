"""The engine's clock: domain code asks an injected :class:`Clock` for the time, never the OS.

Policies that depend on time (the alert intake's link window, the RCA queue's claim
timeout and retries, the watchdog's episodes, rate limits, notifications) take a
``Clock`` so their tests move time by hand instead of sleeping, killing actors or
back-dating rows (Alertmanager injects its clock the same way). Production code passes
:data:`SYSTEM_CLOCK`; tests pass a :class:`ManualClock`.

Two readings, for two purposes:

- :meth:`Clock.now` is wall-clock time, an aware UTC ``datetime``: what is stored and
  compared with stored times (``detected_at``, ``requested_at``, an alert's ``startsAt``).
- :meth:`Clock.monotonic` is seconds from an arbitrary origin that never goes backwards:
  for durations and rates (token buckets, leases, timeouts), never stored.

>>> clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
>>> clock.advance(90)
>>> clock.now().isoformat()
'2026-01-01T00:01:30+00:00'
>>> clock.monotonic()
90.0
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Where domain code reads the time."""

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never decreasing (durations only)."""
        ...


class SystemClock:
    """The operating system's clocks (``datetime.now(UTC)``, ``time.monotonic()``)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Clock = SystemClock()
"""The clock production code passes (one instance: it holds no state)."""


class ManualClock:
    """A clock that moves only when told to (tests). Both readings move together.

    ``start`` must be timezone-aware; ``advance`` never goes backwards (a clock that jumps
    back is :meth:`set`, which moves wall time only, as a stepped system clock would).
    Thread-safe, so it may be shared with code running on worker threads.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start if start is not None else datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._monotonic = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def advance(self, by: float | timedelta) -> None:
        """Move both readings forward by ``by`` (seconds, or a ``timedelta``; never backwards)."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta():
            raise ValueError("a clock does not advance backwards; use set() to step wall time")
        with self._lock:
            self._now += step
            self._monotonic += step.total_seconds()

    def set(self, moment: datetime) -> None:
        """Step wall time to ``moment`` (forwards or back); monotonic time is left alone."""
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs timezone-aware times")
        with self._lock:
            self._now = moment.astimezone(UTC)

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
