"""Time as an injected dependency: domain code asks a :class:`Clock`, tests set one.

Times are timezone-aware UTC ``datetime`` values.

>>> from datetime import UTC, datetime
>>> clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
>>> clock.advance(90)
>>> clock.now().isoformat()
'2026-01-01T00:01:30+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where domain code reads the time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told: ``set(when)`` or ``advance(seconds)``.

    Raises ``ValueError`` for a naive ``datetime`` (no timezone)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _aware(start or datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = _aware(when)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"a clock needs a timezone-aware time, not {when!r}")
    return when.astimezone(UTC)
