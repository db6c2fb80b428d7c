"""SQL of spans: storing them once, reading traces back, and what the rollup derives from them.

Same rules as every repository of :mod:`aiops.storage`: parameterised, ``tenant_id`` in every
predicate, ``FINAL`` where a retried span may still sit twice before a merge.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from aiops.storage.client import ClientPool
from aiops.storage.sql import NS, ns_window, trace_sample, utc
from aiops.storage.telemetry_records import (
    ObservedCall,
    ServiceMinute,
    StoredSpan,
    TelemetryOutcome,
    TraceSummary,
)
from aiops.storage.telemetry_writes import TelemetryWriter

# Columns of spans_in_window, in order: the offline traces.csv columns, then kind and status.
SPAN_WINDOW_COLUMNS = ("trace_id", "span_id", "parent_span_id", "service", "operation", "start_unix_nano",
                       "end_unix_nano", "kind", "status_code")
# A span is an entry of its service (a request it served) when it is a server or consumer
# span, or has no parent at all.
ENTRY = "(kind IN (2, 5) OR parent_span_id = '')"
PARENT_LOOKBACK_SECONDS = 300  # a child's parent is looked for this far before the child's minute


def _three(quantiles: Sequence[float]) -> tuple[float, float, float]:
    """The first three of a row's quantiles (missing ones 0)."""
    p50, p95, p99 = (list(quantiles) + [0.0] * 3)[:3]
    return float(p50), float(p95), float(p99)


class SpanRepository:
    """``spans``, ``span_names`` and the service calls derived from spans."""

    KNOWN_SPAN_NAMES_CAP = 1_000_000  # (service, span name) pairs cached across tenants

    def __init__(self, pool: ClientPool, writer: TelemetryWriter) -> None:
        self._pool = pool
        self._writer = writer
        # (service, span name) pairs known to be stored, per tenant (bounded LRU), so most
        # batches skip the lookup; and one lock per tenant so two batches cannot both take
        # the last free names.
        self._span_names_cache: OrderedDict[str, set[tuple[str, str]]] = OrderedDict()
        self._span_name_locks: dict[str, threading.Lock] = {}
        self._span_names_guard = threading.Lock()

    def _span_name_lock(self, tenant_id: str) -> threading.Lock:
        with self._span_names_guard:
            return self._span_name_locks.setdefault(tenant_id, threading.Lock())

    def _admit_span_names(self, tenant_id: str, spans: pa.Table, max_span_names: int) -> tuple[pa.Table, int]:
        """``spans`` without those whose (service, name) would pass the tenant's bound; and how many went."""
        pairs = spans.select(["service", "operation"]).group_by(["service", "operation"]).aggregate([])
        batch_pairs = set(zip(pairs.column("service").to_pylist(), pairs.column("operation").to_pylist(),
                              strict=True))
        cache = self._span_names_cache
        with self._span_name_lock(tenant_id):
            known = cache.setdefault(tenant_id, set())
            cache.move_to_end(tenant_id)
            unknown = batch_pairs - known
            if not unknown:
                return spans, 0
            services = sorted({service for service, _ in unknown})
            with self._pool.borrow() as client:
                found = {(row[0], row[1]) for row in client.query(
                    "SELECT service, operation FROM span_names WHERE tenant_id = {tenant_id:String} "
                    "AND service IN {services:Array(String)}",
                    parameters={"tenant_id": tenant_id, "services": services},
                ).result_rows}
                known |= found & batch_pairs
                new = sorted(unknown - found)
                refused: set[tuple[str, str]] = set()
                if new:
                    existing = int(client.query(
                        "SELECT uniqExact(service, operation) FROM span_names WHERE tenant_id = {tenant_id:String}",
                        parameters={"tenant_id": tenant_id},
                    ).result_rows[0][0])
                    room = max(0, max_span_names - existing)
                    admitted, refused = new[:room], set(new[room:])
                    if admitted:
                        client.insert("span_names", [[tenant_id, s, o, datetime.now(UTC)] for s, o in admitted],
                                      column_names=["tenant_id", "service", "operation", "first_seen"])
                        known |= set(admitted)
            while sum(len(names) for names in cache.values()) > self.KNOWN_SPAN_NAMES_CAP and len(cache) > 1:
                cache.popitem(last=False)
        if not refused:
            return spans, 0
        refused_table = pa.table({"service": [s for s, _ in refused], "operation": [o for _, o in refused]})
        key = pc.binary_join_element_wise(spans.column("service"), spans.column("operation"), "\x00")
        refused_keys = pc.binary_join_element_wise(refused_table.column("service"),
                                                   refused_table.column("operation"), "\x00")
        drop = pc.is_in(key, value_set=refused_keys)
        kept = spans.filter(pc.invert(drop))
        return kept, spans.num_rows - kept.num_rows

    def ingest_spans(self, tenant_id: str, spans: pa.Table, digest: str, max_span_names: int) -> TelemetryOutcome:
        """Store a decoded batch of spans once (see :mod:`aiops.ingest.otlp.traces` for the columns).

        Spans whose (service, span name) would take the tenant past ``max_span_names``
        distinct pairs are not stored and are counted in ``rejected``. A batch whose
        ``digest`` was stored before is not written again.
        """
        kept, rejected = self._admit_span_names(tenant_id, spans, max_span_names)
        reason = (f"spans with a new span name past the tenant's {max_span_names} distinct (service, span name) "
                  "pairs" if rejected else "")
        if kept.num_rows:
            self._writer.store("spans", tenant_id, kept, digest)
        return TelemetryOutcome(kept.num_rows, rejected, reason)

    # -- reads -----------------------------------------------------------------------------
    def spans_in_window(self, tenant_id: str, since: datetime, until: datetime, limit: int,
                        services: list[str] | None = None) -> pa.Table:
        """Spans that start in ``[since, until)``, oldest first, at most ``limit``, as an Arrow table.

        Columns (:data:`SPAN_WINDOW_COLUMNS`): ``trace_id``, ``span_id``, ``parent_span_id``
        (``""`` for a root) as lower-case hex strings; ``service``, ``operation`` strings;
        ``start_unix_nano``, ``end_unix_nano`` int64 nanoseconds; ``kind`` uint8 (OTLP
        SpanKind) and ``status_code`` uint8 (0 unset, 1 ok, 2 error). The first seven are the
        offline ``traces.csv`` columns of ``aiops eval rca``. ``services`` restricts to those.

        A window holding more than ``limit`` spans is sampled by trace (the same traces
        whatever the query, whole traces kept, as head sampling does) to about ``limit``, so the
        spans after an anomaly's start are not cut off in favour of the oldest ones.
        """
        since, until = ns_window(since, until)
        parameters: dict = {"tenant_id": tenant_id, "since": since, "until": until, "limit": limit}
        where = f"tenant_id = {{tenant_id:String}} AND start >= {{since:{NS}}} AND start < {{until:{NS}}}"
        if services is not None:
            where += " AND service IN {services:Array(String)}"
            parameters["services"] = list(services)
        with self._pool.borrow() as client:
            where += trace_sample(client, "spans", where, parameters, "trace_id")
            return client.query_arrow(
                f"""SELECT trace_id, span_id, parent_span_id, toString(service) AS service,
                           toString(operation) AS operation, toUnixTimestamp64Nano(start) AS start_unix_nano,
                           toUnixTimestamp64Nano(start) + toInt64(duration_ns) AS end_unix_nano, kind, status_code
                    FROM spans FINAL WHERE {where}
                    ORDER BY start, trace_id, span_id LIMIT {{limit:UInt32}}""",
                parameters=parameters,
            )

    def list_traces(self, tenant_id: str, service_id: str | None, since: datetime, until: datetime,
                    limit: int) -> list[TraceSummary]:
        """Traces with a span that starts in ``[since, until)`` (of ``service_id`` when given), newest first."""
        since, until = ns_window(since, until)
        parameters: dict = {"tenant_id": tenant_id, "since": since, "until": until, "limit": limit}
        only = ""
        if service_id is not None:
            only = "AND service = {service_id:String}"
            parameters["service_id"] = service_id
        with self._pool.borrow() as client:
            picked = client.query(
                f"""SELECT trace_id, toUnixTimestamp64Nano(min(first_start)), toUnixTimestamp64Nano(max(last_start))
                    FROM trace_index
                    WHERE tenant_id = {{tenant_id:String}} AND trace_id IN (
                        SELECT trace_id FROM spans
                        WHERE tenant_id = {{tenant_id:String}} AND start >= {{since:{NS}}}
                              AND start < {{until:{NS}}} {only}
                        GROUP BY trace_id ORDER BY min(start) DESC LIMIT {{limit:UInt32}})
                    GROUP BY trace_id""",
                parameters=parameters,
            ).result_rows
            if not picked:
                return []
            rows = client.query(
                """SELECT trace_id, min(toUnixTimestamp64Nano(start)) AS first,
                           max(toUnixTimestamp64Nano(start) + toInt64(duration_ns)), count(),
                           countIf(status_code = 2), arraySort(groupUniqArray(toString(service))),
                           if(countIf(parent_span_id = '') > 0,
                              argMinIf(toString(service), start, parent_span_id = ''),
                              argMin(toString(service), start)),
                           if(countIf(parent_span_id = '') > 0,
                              argMinIf(toString(operation), start, parent_span_id = ''),
                              argMin(toString(operation), start))
                    FROM spans FINAL
                    WHERE tenant_id = {tenant_id:String} AND start >= fromUnixTimestamp64Nano({low:Int64})
                          AND start <= fromUnixTimestamp64Nano({high:Int64}) AND trace_id IN {ids:Array(String)}
                    GROUP BY trace_id ORDER BY first DESC, trace_id""",
                parameters={"tenant_id": tenant_id, "ids": [row[0] for row in picked],
                            "low": min(row[1] for row in picked), "high": max(row[2] for row in picked)},
            ).result_rows
        return [TraceSummary(row[0], int(row[1]), int(row[2]), int(row[3]), int(row[4]), list(row[5]), row[6], row[7])
                for row in rows]

    def get_trace(self, tenant_id: str, trace_id: str, limit: int) -> list[StoredSpan]:
        """The tenant's spans of one trace, oldest first (empty when the tenant has no such trace)."""
        with self._pool.borrow() as client:
            bounds = client.query(
                "SELECT count(), toUnixTimestamp64Nano(min(first_start)), toUnixTimestamp64Nano(max(last_start)) "
                "FROM trace_index "
                "WHERE tenant_id = {tenant_id:String} AND trace_id = {trace_id:String}",
                parameters={"tenant_id": tenant_id, "trace_id": trace_id},
            ).result_rows
            if not bounds or not bounds[0][0]:
                return []
            rows = client.query(
                """SELECT span_id, parent_span_id, toString(service), toString(operation), kind,
                           toUnixTimestamp64Nano(start), duration_ns, status_code, status_message, attributes
                    FROM spans FINAL
                    WHERE tenant_id = {tenant_id:String} AND start >= fromUnixTimestamp64Nano({low:Int64})
                          AND start <= fromUnixTimestamp64Nano({high:Int64}) AND trace_id = {trace_id:String}
                    ORDER BY start, span_id LIMIT {limit:UInt32}""",
                parameters={"tenant_id": tenant_id, "trace_id": trace_id, "low": bounds[0][1], "high": bounds[0][2],
                            "limit": limit},
            ).result_rows
        return [StoredSpan(trace_id, r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), int(r[7]), r[8],
                           dict(r[9])) for r in rows]

    # -- what the rollup derives -----------------------------------------------------------
    def span_minute(self, tenant_id: str, minute: datetime) -> list[ServiceMinute]:
        """Per service, its spans that started in ``[minute, minute + 1 min)`` summarised.

        Self time is a span's duration minus its direct children's (those that started by
        the end of the next minute), at least zero.
        """
        parameters = {"tenant_id": tenant_id, "from": minute, "to": minute + timedelta(minutes=1),
                      "children_to": minute + timedelta(minutes=2)}
        with self._pool.borrow() as client:
            rows = client.query(
                f"""SELECT w.service, count(), countIf(w.entry), countIf(w.entry AND w.status_code = 2),
                           quantilesExactIf(0.5, 0.95, 0.99)(w.duration_ns, w.entry),
                           avg(greatest(toInt64(w.duration_ns) - toInt64(c.child_ns), 0))
                    FROM (
                        SELECT toString(service) AS service, trace_id, span_id, duration_ns, status_code,
                               {ENTRY} AS entry
                        FROM spans FINAL
                        WHERE tenant_id = {{tenant_id:String}} AND start >= {{from:{NS}}} AND start < {{to:{NS}}}
                    ) AS w
                    LEFT JOIN (
                        SELECT trace_id, parent_span_id, sum(duration_ns) AS child_ns FROM spans FINAL
                        WHERE tenant_id = {{tenant_id:String}} AND start >= {{from:{NS}}}
                              AND start < {{children_to:{NS}}} AND parent_span_id != ''
                        GROUP BY trace_id, parent_span_id
                    ) AS c ON c.trace_id = w.trace_id AND c.parent_span_id = w.span_id
                    GROUP BY w.service ORDER BY w.service""",
                parameters=parameters,
            ).result_rows
        return [ServiceMinute(r[0], int(r[1]), int(r[2]), int(r[3]), _three(r[4]), float(r[5])) for r in rows]

    def record_service_calls(self, tenant_id: str, minute: datetime) -> int:
        """Write the observed caller -> callee calls of one minute; returns how many pairs.

        A call is a span whose parent belongs to another service (counted in the minute the
        child starts; its parent looked for up to five minutes earlier), or a client or
        producer span naming a ``peer.service`` other than its own that has no child span
        (an uninstrumented callee, such as a database). Latency is the caller's client span
        when there is one, else the callee's span; an error is the callee's span in ERROR.
        Rewriting a minute replaces it.
        """
        parameters = {"tenant_id": tenant_id, "minute": minute, "from": minute, "to": minute + timedelta(minutes=1),
                      "parents_from": minute - timedelta(seconds=PARENT_LOOKBACK_SECONDS),
                      "children_to": minute + timedelta(minutes=2)}
        window = f"start >= {{from:{NS}}} AND start < {{to:{NS}}}"
        with self._pool.borrow() as client:
            client.command(
                f"""INSERT INTO service_calls (tenant_id, minute, caller, callee, calls, errors, latency_ms_sum,
                                               latency_ms_p95, computed_at)
                    SELECT {{tenant_id:String}}, {{minute:DateTime('UTC')}}, caller, callee, count(), countIf(failed),
                           sum(latency_ms), quantileExact(0.95)(latency_ms), now64(3)
                    FROM (
                        SELECT p.service AS caller, c.service AS callee, c.status_code = 2 AS failed,
                               if(p.kind IN (3, 4), p.duration_ns, c.duration_ns) / 1e6 AS latency_ms
                        FROM (
                            SELECT toString(service) AS service, trace_id, parent_span_id, duration_ns, status_code
                            FROM spans FINAL
                            WHERE tenant_id = {{tenant_id:String}} AND {window} AND parent_span_id != ''
                        ) AS c
                        INNER JOIN (
                            SELECT toString(service) AS service, trace_id, span_id, kind, duration_ns FROM spans FINAL
                            WHERE tenant_id = {{tenant_id:String}} AND start >= {{parents_from:{NS}}}
                                  AND start < {{to:{NS}}}
                        ) AS p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
                        WHERE p.service != c.service
                        UNION ALL
                        SELECT s.service AS caller, s.peer AS callee, s.status_code = 2 AS failed,
                               s.duration_ns / 1e6 AS latency_ms
                        FROM (
                            SELECT toString(service) AS service, attributes['peer.service'] AS peer, trace_id,
                                   span_id, duration_ns, status_code
                            FROM spans FINAL
                            WHERE tenant_id = {{tenant_id:String}} AND {window} AND kind IN (3, 4)
                                  AND attributes['peer.service'] NOT IN ('', toString(service))
                        ) AS s
                        LEFT ANTI JOIN (
                            SELECT trace_id, parent_span_id FROM spans
                            WHERE tenant_id = {{tenant_id:String}} AND start >= {{from:{NS}}}
                                  AND start < {{children_to:{NS}}} AND parent_span_id != ''
                        ) AS k ON k.trace_id = s.trace_id AND k.parent_span_id = s.span_id
                    )
                    GROUP BY caller, callee""",
                parameters=parameters,
            )
            return int(client.query(
                "SELECT count() FROM service_calls FINAL WHERE tenant_id = {tenant_id:String} "
                "AND minute = {minute:DateTime('UTC')}", parameters=parameters,
            ).result_rows[0][0])

    def observed_calls(self, tenant_id: str, since: datetime, until: datetime) -> list[ObservedCall]:
        """Caller -> callee calls seen in the minutes of ``[since, until)``, summed per pair."""
        with self._pool.borrow() as client:
            rows = client.query(
                """SELECT toString(caller), toString(callee), sum(calls), sum(errors),
                          sum(latency_ms_sum) / greatest(sum(calls), 1), max(latency_ms_p95), min(minute), max(minute)
                   FROM service_calls FINAL
                   WHERE tenant_id = {tenant_id:String} AND minute >= {since:DateTime('UTC')}
                         AND minute < {until:DateTime('UTC')}
                   GROUP BY caller, callee ORDER BY caller, callee""",
                parameters={"tenant_id": tenant_id, "since": since, "until": until},
            ).result_rows
        return [ObservedCall(r[0], r[1], int(r[2]), int(r[3]), float(r[4]), float(r[5]), utc(r[6]), utc(r[7]))
                for r in rows]
