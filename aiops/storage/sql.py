"""What every repository's SQL shares: time conversions, nanosecond windows, trace sampling.

The rules all of ``aiops/storage`` follows: statements are parameterised (``{name:Type}``
server-side binding, never formatted values); every predicate on a tenant-owned table
names ``tenant_id`` (the few reads across tenants, for the incident manager and the
notifier, say "every tenant" in their docstrings); reads of
``ReplacingMergeTree`` tables use ``FINAL`` so an updated row is seen once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from clickhouse_connect.driver.client import Client

NS = "DateTime64(9, 'UTC')"
MS = "DateTime64(3, 'UTC')"  # the type of every other timestamp column (``created_at``, ``updated_at``...)

# What a DateTime64(9) column holds (int64 nanoseconds since 1970). A window reaching past
# it (``until=2299-01-01`` is a fair way to say "everything") is cut to it, instead of
# failing inside ClickHouse.
NS_EARLIEST = datetime(1900, 1, 2, tzinfo=UTC)
NS_LATEST = datetime(2262, 4, 11, tzinfo=UTC)

SAMPLE_BUCKETS = 10_000

Parameters = dict[str, object]


def utc(value: datetime) -> datetime:
    """ClickHouse hands back naive datetimes for UTC columns; make them aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def month_start(now: datetime) -> date:
    return date(now.year, now.month, 1)


def ns_window(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """``[since, until)`` cut to what a nanosecond timestamp column holds."""
    low, high = (min(max(utc(moment), NS_EARLIEST), NS_LATEST) for moment in (since, until))
    return low, high


def trace_sample(client: Client, table: str, where: str, parameters: Parameters, key: str) -> str:
    """An extra predicate keeping about ``parameters["limit"]`` of the rows ``where`` selects in
    ``table``, whole traces at a time (rows are kept by a hash of ``key``); ``""`` when they fit.
    Sets ``parameters["keep"]``."""
    rows = int(client.query(f"SELECT count() FROM {table} WHERE {where}", parameters=parameters).result_rows[0][0])
    limit = int(str(parameters["limit"]))
    if rows <= limit:
        return ""
    parameters["keep"] = max(1, SAMPLE_BUCKETS * limit // rows)
    return f" AND cityHash64({key}) % {SAMPLE_BUCKETS} < {{keep:UInt32}}"
