"""Closed minutes of spans and logs, rolled up once into series, observed calls and templates.

Spans of one request arrive over several seconds (exporters batch them) and from many
processes, so a minute is computed only once it is *closed*: it ended at least
``otlp.rollup_lateness_seconds`` ago, and nothing stamped in it has arrived for that long
(so a backlog replayed late, say by a Collector after an outage, is rolled up once it has
all arrived, not with its first batch). Every ``otlp.rollup_interval_seconds`` the rollup
asks storage which (tenant, signal, minute) hold data and are closed but not yet rolled
up (over the last ``otlp.rollup_lookback_minutes``), oldest first, and for each of its own
tenants:

- spans: per service the health of :mod:`aiops.telemetry.health`, and the minute's
  caller -> callee calls into ``service_calls``;
- logs: records per level, templates mined from the minute's message shapes not mined
  before (a shape is the body with every token holding a digit as ``<*>``, computed in
  SQL, so a million "order 123 paid" lines are one shape; at most
  ``otlp.template_shapes_per_minute``), records per template, templates first seen in the
  minute.

The series go through the ordinary ingestion path: stored exactly once (the batch digest
is its content, so recomputing a minute after a crash writes nothing twice), under the
first-write rule (:mod:`aiops.storage.first_write`): a recomputed minute whose figures
came out different (spans arrived between a crash and the retry) keeps the values first
stored, and only its new points are written; then what storage holds is delivered to the
tenant's watchdog shard, then the minute is marked done. A minute whose delivery fails is
retried at the next pass, and a tenant's later minutes wait for it (the watchdog wants
time order).

The lateness rule: a span or record stamped in a minute that was already rolled up (it
arrived after its minute had been over and quiet for ``otlp.rollup_lateness_seconds``) is
stored and readable (traces, logs, ``spans_in_window``) but not counted in that minute's
series, calls or templates.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiops.ingest.batch import PointBatch
from aiops.ingest.builder import BatchBuilder
from aiops.ingest.otlp.logs import level_number
from aiops.settings import Settings
from aiops.telemetry.health import (
    LOG_RECORDS,
    NEW_TEMPLATES,
    TEMPLATE_RECORDS,
    MinutePoints,
    span_points,
)
from aiops.telemetry.templates import TenantTemplates

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
PENDING_PER_PASS = 2000


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class TelemetryRollup:
    """``store`` is a Store (or a gateway's sync proxy); ``deliver(tenant, batch)`` hands a stored
    batch to the tenant's watchdog and raises when it could not; ``owns(tenant)`` says whether
    this worker rolls the tenant up; ``clock`` returns the current UTC time."""

    def __init__(self, settings: Settings, store, deliver: Callable[[str, PointBatch], None],
                 owns: Callable[[str], bool], clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._settings = settings
        self._store = store
        self._deliver = deliver
        self._owns = owns
        self._clock = clock
        self._miners: dict[str, TenantTemplates] = {}

    def closed_until(self, now: datetime) -> datetime:
        """The start of the newest minute that has been over for the lateness at ``now``."""
        return minute_floor(now - MINUTE - timedelta(seconds=self._settings.otlp.rollup_lateness_seconds))

    def run_once(self) -> int:
        """Roll up every pending closed minute of this worker's tenants; returns how many."""
        now = self._clock()
        otlp = self._settings.otlp
        pending = self._store.telemetry_minutes_pending_all_tenants(
            minute_floor(now - timedelta(minutes=otlp.rollup_lookback_minutes)), self.closed_until(now),
            now - timedelta(seconds=otlp.rollup_lateness_seconds), PENDING_PER_PASS)
        plans: dict[str, str | None] = {}
        stalled: set[str] = set()
        done = 0
        for tenant_id, signal, minute in pending:
            if tenant_id in stalled or not self._owns(tenant_id):
                continue
            if tenant_id not in plans:
                plans[tenant_id] = self._store.tenant_plan(tenant_id)
            plan = self._settings.plans.get(plans[tenant_id] or "")
            try:
                if plan is not None:  # an offboarded tenant's minutes are only marked done
                    began = time.perf_counter()
                    if signal == "spans":
                        self.roll_spans(tenant_id, minute, plan.max_series)
                    else:
                        self.roll_logs(tenant_id, minute, plan.max_series)
                    log.debug("rolled up %s of %s at %s in %.3f s", signal, tenant_id, minute,
                              time.perf_counter() - began)
                self._store.mark_rolled_up(tenant_id, signal, minute, now)
                done += 1
            except Exception as error:  # storage or the shard is unavailable: this tenant waits for the next pass
                log.warning("rollup of %s %s at %s failed, retried next pass: %s", tenant_id, signal, minute, error)
                stalled.add(tenant_id)
        return done

    def _builder(self) -> BatchBuilder:
        ingest = self._settings.ingest
        return BatchBuilder(now_ms=int(self._clock().timestamp() * 1000), max_past_seconds=ingest.max_past_seconds,
                            max_future_seconds=ingest.max_future_seconds)

    def _store_and_deliver(self, tenant_id: str, points: MinutePoints, max_series: int) -> None:
        batch = points.batch(self._builder())
        if batch is None:
            return
        outcome = self._store.ingest_batch(tenant_id, batch.points_table(tenant_id), batch.series_table(tenant_id),
                                           batch.digest(tenant_id), max_series, False, True)
        if outcome.refused:
            log.warning("telemetry series of %s not stored: %s", tenant_id, outcome.refused)
            return
        if outcome.changed_points is not None:  # first write wins; detection sees what storage holds
            log.info("telemetry rollup of %s kept %d stored values (first write wins), e.g. %s", tenant_id,
                     outcome.changed_points.size, outcome.change)
            batch = batch.without(outcome.changed_points)
        self._deliver(tenant_id, batch)

    def roll_spans(self, tenant_id: str, minute: datetime, max_series: int) -> None:
        services = self._store.span_minute(tenant_id, minute)
        self._store.record_service_calls(tenant_id, minute)
        points = MinutePoints(minute)
        span_points(points, services)
        self._store_and_deliver(tenant_id, points, max_series)

    def _miner(self, tenant_id: str) -> TenantTemplates:
        miner = self._miners.get(tenant_id)
        if miner is None:
            otlp = self._settings.otlp
            miner = self._miners[tenant_id] = TenantTemplates(
                self._store.load_log_templates(tenant_id), max_templates=otlp.templates_per_tenant,
                similarity=otlp.template_similarity)
        return miner

    def roll_logs(self, tenant_id: str, minute: datetime, max_series: int) -> None:
        data = self._store.log_minute(tenant_id, minute)
        miner = self._miner(tenant_id)
        budget = self._settings.otlp.template_shapes_per_minute
        mined: dict[int, int] = {}
        per_template: Counter = Counter()
        per_level: Counter = Counter()
        for shape in data.shapes:
            template_id = shape.template_id or mined.get(shape.shape_hash, 0)
            if not template_id:
                if budget == 0:
                    continue  # left unmined; counted in its level's records only
                budget -= 1
                template_id, _ = miner.mine(shape.shape, minute)
                mined[shape.shape_hash] = template_id
            per_template[(shape.service, template_id)] += shape.records
            per_level[(shape.service, template_id, shape.severity)] += shape.records
        counts = [(minute, service, template_id, level, level_number(level), records)
                  for (service, template_id, level), records in sorted(per_level.items())]
        self._store.save_log_templates(tenant_id, miner.rows({t for _, t in per_template}, minute),
                                       sorted(mined.items()), counts, self._clock())
        points = MinutePoints(minute)
        new: defaultdict[str, int] = defaultdict(int)
        for service, level, records in data.severities:
            points.add(service, LOG_RECORDS, records, {"severity": level})
            new[service] += 0
        for (service, template_id), records in sorted(per_template.items()):
            points.add(service, TEMPLATE_RECORDS, records, {"template_id": str(template_id)})
            if miner.first_seen(template_id) == minute:
                new[service] += 1
        for service, count in sorted(new.items()):
            points.add(service, NEW_TEMPLATES, count)
        self._store_and_deliver(tenant_id, points, max_series)
