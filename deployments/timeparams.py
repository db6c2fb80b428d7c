"""Time query parameters: made UTC-aware and kept inside what storage can hold.

ClickHouse's ``DateTime64(3)`` spans 1900-2299; a date outside (or one whose UTC
conversion overflows) is a 422 naming the parameter, not an error deep in a query.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiops.errors import Unprocessable

EARLIEST = datetime(1900, 1, 2, tzinfo=UTC)
LATEST = datetime(2299, 12, 30, tzinfo=UTC)


def query_time(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise Unprocessable(f"{name} is out of range") from None
    if not EARLIEST <= value <= LATEST:
        raise Unprocessable(f"{name} must be between {EARLIEST.year} and {LATEST.year}")
    return value
