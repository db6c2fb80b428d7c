"""The storage layer: every SQL statement the engine runs lives in this class (and its mixins).

Queries are parameterised (``{name:Type}`` server-side binding) and every predicate on a
tenant-owned table names ``tenant_id``; the few methods that read across tenants say so
in their name (``list_all_tenants``) or docstring ("every tenant": the incident manager's and
the notifier's reads). Reads of ``ReplacingMergeTree`` tables use ``FINAL`` so an updated row is
seen once. The same class runs in the storage-owner actor (embedded chDB) or in any
process (ClickHouse server); callers reach it through :mod:`aiops.storage.gateway`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from aiops.ingest.batch import PointBatch
from aiops.settings import Settings
from aiops.storage.alert_queries import AlertQueries
from aiops.storage.api_keys import ApiKeyRepository
from aiops.storage.client import ClientPool
from aiops.storage.first_write import FirstWriteGuard, Points, matching
from aiops.storage.group_commit import GroupCommit
from aiops.storage.incident_memory_queries import IncidentMemoryQueries
from aiops.storage.incident_store import IncidentTables
from aiops.storage.log_queries import LogQueries
from aiops.storage.migrations import migrate
from aiops.storage.outbox import NotificationTables
from aiops.storage.rca_queries import RcaQueries
from aiops.storage.records import (
    AnomalyPage,
    AnomalyRecord,
    ApiKeyRecord,
    IngestOutcome,
    StoredSeries,
    TenantRecord,
)
from aiops.storage.rollup_queries import RollupQueries
from aiops.storage.span_queries import SpanQueries
from aiops.storage.sql import utc
from aiops.storage.tenants import TenantRepository


class Store(RcaQueries, IncidentMemoryQueries, AlertQueries, SpanQueries, LogQueries, RollupQueries, IncidentTables,
            NotificationTables):
    """All reads and writes of the engine's ClickHouse tables."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool = ClientPool(
            settings.dsn,
            settings.storage.pool_size,
            timeout_seconds=settings.storage.query_timeout_seconds,
        )
        # Makes "create unless it exists" atomic within this process (the owner, in chDB mode),
        # and keeps revoking a key and offboarding its tenant apart.
        registry_lock = threading.Lock()
        self.api_keys = ApiKeyRepository(self._pool, registry_lock)
        self.tenants = TenantRepository(self._pool, self.api_keys, registry_lock)
        # Series ids known to exist, per tenant (bounded LRU), so most batches skip the lookup.
        self._known_series: OrderedDict[str, set[int]] = OrderedDict()
        self._known_series_count = 0
        self._known_series_lock = threading.Lock()
        self._series_locks: dict[str, threading.Lock] = {}
        # Batches stored lately, by (tenant, digest): a retry is answered without a second
        # insert. In embedded mode this process is the only writer, so after loading the
        # last day's batches at first use the set is the whole truth; with a server other
        # processes write too, and a miss is checked in ingested_batches.
        self._recent_batches: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._recent_loaded = False
        self._recent_lock = threading.Lock()
        self._only_writer = settings.embedded_storage
        self._commit = GroupCommit(self._write_batches)
        self._first_write = FirstWriteGuard(only_writer=self._only_writer, max_series=self.KNOWN_SERIES_CAP)
        self._init_telemetry()

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._pool.close()

    def ping(self) -> str:
        """The ClickHouse server version; raises when storage does not answer."""
        with self._pool.borrow() as client:
            return str(client.query("SELECT version()").result_rows[0][0])

    def migrate(self) -> list[int]:
        """Apply pending schema migrations and the configured retention."""
        with self._pool.borrow() as client:
            return migrate(client, self._settings.retention)

    # -- tenants and API keys (typed repositories; these names are the gateway's) -------
    def create_tenant(self, tenant: TenantRecord) -> bool:
        return self.tenants.create(tenant)

    def delete_tenant(self, tenant_id: str, at: datetime) -> bool:
        return self.tenants.delete(tenant_id, at)

    def tenant_deleted_at(self, tenant_id: str) -> datetime | None:
        return self.tenants.deleted_at(tenant_id)

    def tenant_plan(self, tenant_id: str) -> str | None:
        return self.tenants.plan(tenant_id)

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        return self.tenants.get(tenant_id)

    def list_all_tenants(self) -> list[TenantRecord]:
        return self.tenants.list_all()

    def create_api_key(self, key: ApiKeyRecord) -> None:
        self.api_keys.create(key)

    def list_api_keys(self, tenant_id: str, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        return self.api_keys.list(tenant_id, include_revoked=include_revoked)

    def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        return self.api_keys.find_by_hash(key_hash)

    def revoke_api_key(self, tenant_id: str, key_id: str, at: datetime) -> bool:
        return self.api_keys.revoke(tenant_id, key_id, at)

    def touch_api_keys(self, uses: list[tuple[str, str, datetime]]) -> None:
        self.api_keys.touch(uses)

    # -- metric points -----------------------------------------------------------------
    KNOWN_SERIES_CAP = 2_000_000  # ids cached across all tenants

    def _series_lock(self, tenant_id: str) -> threading.Lock:
        with self._known_series_lock:
            return self._series_locks.setdefault(tenant_id, threading.Lock())

    def _remember_series(self, tenant_id: str, ids: set[int]) -> set[int]:
        with self._known_series_lock:
            known = self._known_series.setdefault(tenant_id, set())
            before = len(known)
            known |= ids
            self._known_series_count += len(known) - before
            self._known_series.move_to_end(tenant_id)
            while self._known_series_count > self.KNOWN_SERIES_CAP and len(self._known_series) > 1:
                _, evicted = self._known_series.popitem(last=False)
                self._known_series_count -= len(evicted)
            return known

    RECENT_BATCHES_CAP = 200_000

    def ingest_batch(self, tenant_id: str, points: pa.Table, series: pa.Table, digest: str,
                     max_series: int, counted: bool = True, keep_stored: bool = False) -> IngestOutcome:
        """Store one batch exactly once: new series (within ``max_series``), then its points.

        ``digest`` identifies the batch's content; a batch already stored is not written
        again (and counts towards the tenant's monthly usage once; not at all when
        ``counted`` is false: series the engine derives itself, such as span health).
        Concurrent batches share one insert. A stored point is never changed
        (:mod:`aiops.storage.first_write`): points already stored with the same value are not
        written again, and a batch giving one another value is refused; with ``keep_stored``
        (OTLP, where refusing a batch drops it whole, and the engine's own rollups) only those
        points are left out, the stored values kept, and the outcome counts and names them.
        Over the series limit or refused, nothing is written.
        """
        if self._already_stored(tenant_id, digest):
            return IngestOutcome(points.num_rows, 0)
        batch_ids = series.column("series_id").to_numpy()
        incoming = Points(points.column("series_id").to_numpy().astype(np.uint64),
                          points.column("ts").cast(pa.int64()).to_numpy(),
                          points.column("value").to_numpy().astype(np.float64))
        with self._series_lock(tenant_id):
            with self._known_series_lock:
                cached = self._known_series.get(tenant_id, set())
                unknown = [int(i) for i in batch_ids if int(i) not in cached]
            new: list[int] = []
            with self._pool.borrow() as client:
                if unknown:
                    found = {int(row[0]) for row in client.query(
                        "SELECT DISTINCT series_id FROM series WHERE tenant_id = {tenant_id:String} "
                        "AND series_id IN {ids:Array(UInt64)}",
                        parameters={"tenant_id": tenant_id, "ids": unknown},
                    ).result_rows}
                    self._remember_series(tenant_id, found)
                    new = [i for i in unknown if i not in found]
                    if new:
                        existing = int(client.query(
                            "SELECT uniqExact(series_id) FROM series WHERE tenant_id = {tenant_id:String}",
                            parameters={"tenant_id": tenant_id},
                        ).result_rows[0][0])
                        if existing + len(new) > max_series:
                            return IngestOutcome(0, 0, f"the batch adds {len(new)} series to {existing}; "
                                                       f"the plan allows {max_series}")
                self._first_write.learn_newest(tenant_id, dict.fromkeys(new, -1))  # nothing stored yet
                cold = [i for i in self._first_write.unknown_newest(tenant_id, incoming.series_ids)
                        if i not in set(new)]
                if cold:
                    self._first_write.learn_newest(tenant_id, self._newest_stored(client, tenant_id, cold))
                keep, conflict, changed = self._first_writes(client, tenant_id, incoming, points, keep_stored)
                if conflict:
                    return IngestOutcome(0, 0, conflict=conflict)
                if new:
                    rows = np.flatnonzero(np.isin(batch_ids, np.array(new, dtype=np.uint64)))
                    client.insert_arrow("series", series.take(pa.array(rows)))
            self._remember_series(tenant_id, set(new))
            if keep is not None:
                incoming, points = incoming.take(keep), points.take(pa.array(keep))
            ticket = self._first_write.begin(tenant_id, incoming)
        try:
            self._commit.submit((tenant_id, digest, points, counted))
        finally:
            self._first_write.end(tenant_id, ticket)
        if changed is not None:
            return IngestOutcome(points.num_rows, len(new), changed_points=changed[0], change=changed[1])
        return IngestOutcome(points.num_rows, len(new))

    def _newest_stored(self, client, tenant_id: str, series_ids: list[int]) -> dict[int, int]:
        """``series id -> newest stored ms`` (-1 for a series with no stored point)."""
        rows = client.query(
            "SELECT series_id, toUnixTimestamp64Milli(max(ts)) FROM metric_points "
            "WHERE tenant_id = {tenant_id:String} AND series_id IN {ids:Array(UInt64)} GROUP BY series_id",
            parameters={"tenant_id": tenant_id, "ids": series_ids},
        ).result_rows
        return {**dict.fromkeys(series_ids, -1), **{int(row[0]): int(row[1]) for row in rows}}

    STAMPS_IN_QUERY = 10_000  # distinct timestamps looked up by value; more: by time range

    def _first_writes(self, client, tenant_id: str, incoming: Points, points: pa.Table, keep_stored: bool = False
                      ) -> tuple[np.ndarray | None, str | None, tuple[np.ndarray, str] | None]:
        """Positions of the batch's points to write (None: all), or why the batch is refused:
        points that may exist are looked up in storage and among the batches in flight. With
        ``keep_stored`` a point that would change a stored one is left out instead, and the
        third item gives the positions left out so and the first of them in words."""
        maybe = np.flatnonzero(self._first_write.maybe_stored(tenant_id, incoming))
        if maybe.size == 0:
            return None, None, None
        candidates = incoming.take(maybe)
        stamps = np.unique(candidates.timestamps_ms)
        parameters = {"tenant_id": tenant_id, "ids": [int(i) for i in np.unique(candidates.series_ids)],
                      "low": int(stamps[0]), "high": int(stamps[-1])}
        exact = ""
        if stamps.size <= self.STAMPS_IN_QUERY:  # else the time range alone (a long backfill), matched below
            exact, parameters["stamps"] = " AND toUnixTimestamp64Milli(ts) IN {stamps:Array(Int64)}", stamps.tolist()
        rows = client.query_arrow(
            "SELECT series_id, toUnixTimestamp64Milli(ts) AS ms, value FROM metric_points FINAL "
            "WHERE tenant_id = {tenant_id:String} AND series_id IN {ids:Array(UInt64)} "
            "AND ts BETWEEN fromUnixTimestamp64Milli({low:Int64}, 'UTC') "
            "AND fromUnixTimestamp64Milli({high:Int64}, 'UTC')" + exact,
            parameters=parameters,
        )
        stored = Points(rows.column("series_id").to_numpy().astype(np.uint64),
                        rows.column("ms").to_numpy().astype(np.int64), rows.column("value").to_numpy())
        repeated = np.zeros(incoming.size, dtype=bool)
        changed = np.zeros(incoming.size, dtype=bool)
        change = ""
        for theirs, whose in [(stored, "stored"), *((p, "being stored") for p in self._first_write.in_flight(
                tenant_id))]:
            mine, twin = matching(candidates, theirs)
            differ = candidates.values[mine] != theirs.values[twin]
            if differ.any() and not change:
                first = int(np.flatnonzero(differ)[0])
                at = int(maybe[mine[first]])
                moment = datetime.fromtimestamp(candidates.timestamps_ms[mine[first]] / 1000, UTC)
                named = (f"{points.column('service_id')[at].as_py()}/{points.column('metric_name')[at].as_py()} "
                         f"(series {int(candidates.series_ids[mine[first]])})")
                change = (f"{named} at {moment.isoformat().replace('+00:00', 'Z')}: value "
                          f"{candidates.values[mine[first]]:g} differs from the {whose} "
                          f"{theirs.values[twin[first]]:g}; a stored point is never changed")
                if not keep_stored:
                    return None, change, None
            changed[maybe[mine[differ]]] = True
            repeated[maybe[mine]] = True
        left_out = (np.flatnonzero(changed), change) if changed.any() else None
        return (np.flatnonzero(~repeated), None, left_out) if repeated.any() else (None, None, None)

    def _already_stored(self, tenant_id: str, digest: str) -> bool:
        with self._recent_lock:
            if not self._recent_loaded:
                self._load_recent_batches()
            if (tenant_id, digest) in self._recent_batches:
                return True
        if self._only_writer:
            return False
        with self._pool.borrow() as client:
            return bool(client.query(
                "SELECT count() FROM ingested_batches WHERE tenant_id = {tenant_id:String} "
                "AND digest = {digest:String}", parameters={"tenant_id": tenant_id, "digest": digest},
            ).result_rows[0][0])

    def _load_recent_batches(self) -> None:
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT tenant_id, digest FROM ingested_batches ORDER BY ingested_at DESC LIMIT {cap:UInt32}",
                parameters={"cap": self.RECENT_BATCHES_CAP},
            ).result_rows
        for tenant_id, digest in reversed(rows):
            self._recent_batches[(tenant_id, digest)] = None
        self._recent_loaded = True

    def _write_batches(self, batches: list[tuple[str, str, pa.Table, bool]]) -> None:
        """One insert of every queued batch's points, then their ``ingested_batches`` rows.

        A crash between the two leaves points without their batch row: the retry writes
        them again (``ReplacingMergeTree`` keeps one copy) and usage counts them once.
        """
        unique: dict[tuple[str, str], pa.Table] = {}
        events: dict[tuple[str, str], int] = {}
        for tenant_id, digest, points, counted in batches:
            unique.setdefault((tenant_id, digest), points)
            events.setdefault((tenant_id, digest), points.num_rows if counted else 0)
        tables = [table for table in unique.values() if table.num_rows]
        now = datetime.now(UTC)
        with self._pool.borrow() as client:
            if tables:  # a batch of points all stored before has none left to write
                combined = (tables[0] if len(tables) == 1
                            else pa.concat_tables(tables).unify_dictionaries().combine_chunks())
                # No insert-time dedupe pass: reads use FINAL and merges keep one copy anyway (~25 % cheaper).
                client.insert_arrow("metric_points", combined, settings={"optimize_on_insert": 0})
            # Arrow here too: a row insert would first ask the server for the table's columns.
            client.insert_arrow("ingested_batches", pa.table({
                "tenant_id": pa.array([tenant for tenant, _ in unique], pa.string()),
                "digest": pa.array([digest for _, digest in unique], pa.string()),
                "points": pa.array(list(events.values()), pa.uint32()),
                "ingested_at": pa.array([now] * len(unique), pa.timestamp("ms", tz="UTC")),
            }))
        with self._recent_lock:
            for key in unique:
                self._recent_batches[key] = None
            while len(self._recent_batches) > self.RECENT_BATCHES_CAP:
                self._recent_batches.popitem(last=False)

    def read_series(self, tenant_id: str, service_id: str, metric_name: str | None, since: datetime,
                    until: datetime, step_seconds: int | None, max_points: int) -> list[StoredSeries] | None:
        """Points of a service's series in ``[since, until)``, raw or averaged per ``step_seconds``.

        Returns None when more than ``max_points`` would come back.
        """
        parameters: dict = {"tenant_id": tenant_id, "service_id": service_id, "since": since, "until": until,
                            "limit": max_points + 1}
        predicate = "tenant_id = {tenant_id:String} AND service_id = {service_id:String}"
        if metric_name is not None:
            predicate += " AND metric_name = {metric_name:String}"
            parameters["metric_name"] = metric_name
        window = "ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')}"
        if step_seconds:
            parameters["step"] = step_seconds
            sql = f"""SELECT series_id, toUnixTimestamp(toStartOfInterval(ts, toIntervalSecond({{step:UInt32}})))
                             AS at, avg(value)
                      FROM metric_points FINAL WHERE {predicate} AND {window}
                      GROUP BY series_id, at ORDER BY series_id, at LIMIT {{limit:UInt32}}"""
        else:
            sql = f"""SELECT series_id, toUnixTimestamp64Milli(ts) / 1000.0 AS at, value
                      FROM metric_points FINAL WHERE {predicate} AND {window}
                      ORDER BY series_id, ts LIMIT {{limit:UInt32}}"""
        with self._pool.borrow() as client:
            table = client.query_arrow(sql, parameters=parameters)
            if table.num_rows > max_points:
                return None
            meta = client.query(
                f"SELECT series_id, any(metric_name), any(labels) FROM series WHERE {predicate} GROUP BY series_id",
                parameters=parameters,
            ).result_rows
        ids = table.column(0).to_numpy()
        # One conversion of every (at, value) pair, then slices per series: no per-point Python work.
        pairs = np.column_stack((table.column(1).to_numpy().astype(np.float64),
                                 table.column(2).to_numpy().astype(np.float64))).tolist()
        bounds = np.flatnonzero(np.diff(ids)) + 1
        starts = np.concatenate(([0], bounds)).tolist() if ids.size else []
        ends = np.concatenate((bounds, [ids.size])).tolist() if ids.size else []
        labels_of = {int(row[0]): (row[1], dict(row[2])) for row in meta}
        result = []
        for start, end in zip(starts, ends, strict=True):
            identity = int(ids[start])
            metric, labels = labels_of.get(identity, (metric_name or "", {}))
            result.append(StoredSeries(identity, service_id, metric, labels, pairs[start:end]))
        return sorted(result, key=lambda found: (found.metric_name, sorted(found.labels.items())))

    # -- audits ------------------------------------------------------------------------
    def tables_containing(self, needle: str) -> list[str]:
        """Tables with any value whose text contains ``needle`` (a secrets scan; slow, whole tables)."""
        found = []
        with self._pool.borrow() as client:
            columns: dict[str, list[str]] = {}
            for table, column in client.query(
                "SELECT table, name FROM system.columns WHERE database = currentDatabase() ORDER BY table, position"
            ).result_rows:
                columns.setdefault(table, []).append(column)
            for table, names in columns.items():
                texts = ", ".join(f"toString(`{name}`)" for name in names)
                hits = client.query(
                    f"SELECT count() FROM `{table}` "
                    f"WHERE arrayExists(t -> position(t, {{needle:String}}) > 0, [{texts}])",
                    parameters={"needle": needle},
                ).result_rows[0][0]
                if hits:
                    found.append(table)
        return found

    # -- anomalies -----------------------------------------------------------------------
    _ANOMALY_COLUMNS = (
        "tenant_id", "anomaly_id", "service_id", "metric_name", "series_id", "labels", "source", "model",
        "anomaly_score", "z_score", "detected_at", "last_seen_at", "rca_triggered", "resolved", "feedback",
        "updated_at",
    )

    def upsert_anomalies(self, anomalies: list[AnomalyRecord]) -> None:
        """Write new anomalies or new versions of existing ones (the latest ``updated_at`` wins)."""
        if not anomalies:
            return
        now = datetime.now(UTC)
        rows = [[a.tenant_id, a.anomaly_id, a.service_id, a.metric_name, a.series_id, a.labels, a.source, a.model,
                 a.anomaly_score, a.z_score, a.detected_at, a.last_seen_at, int(a.rca_triggered), int(a.resolved),
                 a.feedback, a.updated_at or now] for a in anomalies]
        with self._pool.borrow() as client:
            client.insert("anomalies", rows, column_names=list(self._ANOMALY_COLUMNS))

    @staticmethod
    def _anomaly(row: tuple) -> AnomalyRecord:
        return AnomalyRecord(
            tenant_id=row[0], anomaly_id=row[1], service_id=row[2], metric_name=row[3], series_id=int(row[4]),
            labels=dict(row[5]), source=row[6], model=row[7], anomaly_score=float(row[8]), z_score=float(row[9]),
            detected_at=utc(row[10]), last_seen_at=utc(row[11]), rca_triggered=bool(row[12]),
            resolved=bool(row[13]), feedback=row[14], updated_at=utc(row[15]),
        )

    def get_anomaly(self, tenant_id: str, anomaly_id: str) -> AnomalyRecord | None:
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(self._ANOMALY_COLUMNS)} FROM anomalies FINAL "
                "WHERE tenant_id = {tenant_id:String} AND anomaly_id = {anomaly_id:String}",
                parameters={"tenant_id": tenant_id, "anomaly_id": anomaly_id},
            ).result_rows
        return self._anomaly(rows[0]) if rows else None

    def list_anomalies(self, tenant_id: str, *, service_id: str | None = None, since: datetime | None = None,
                       until: datetime | None = None, min_score: float | None = None, limit: int = 50,
                       after: tuple[datetime, str] | None = None) -> AnomalyPage:
        """Newest first, ``limit`` at a time; ``after`` is the keyset position a page ended at."""
        predicate = ["tenant_id = {tenant_id:String}"]
        parameters: dict = {"tenant_id": tenant_id, "limit": limit + 1}
        if service_id is not None:
            predicate.append("service_id = {service_id:String}")
            parameters["service_id"] = service_id
        if since is not None:
            predicate.append("detected_at >= {since:DateTime64(3, 'UTC')}")
            parameters["since"] = since
        if until is not None:
            predicate.append("detected_at < {until:DateTime64(3, 'UTC')}")
            parameters["until"] = until
        if min_score is not None:
            predicate.append("anomaly_score >= {min_score:Float64}")
            parameters["min_score"] = min_score
        where = " AND ".join(predicate)
        page_where = where
        if after is not None:
            page_where += (" AND (detected_at, anomaly_id) < "
                           "({after_at:DateTime64(3, 'UTC')}, {after_id:String})")
            parameters["after_at"], parameters["after_id"] = after
        with self._pool.borrow() as client:
            rows = client.query(
                f"SELECT {', '.join(self._ANOMALY_COLUMNS)} FROM anomalies FINAL WHERE {page_where} "
                "ORDER BY detected_at DESC, anomaly_id DESC LIMIT {limit:UInt32}",
                parameters=parameters,
            ).result_rows
            total = int(client.query(f"SELECT count() FROM anomalies FINAL WHERE {where}",
                                     parameters=parameters).result_rows[0][0])
        records = [self._anomaly(row) for row in rows[:limit]]
        more = len(rows) > limit
        return AnomalyPage(records, total, (records[-1].detected_at, records[-1].anomaly_id) if more else None)

    # -- detector checkpoints and model choices -------------------------------------------
    def save_checkpoint(self, tenant_id: str, model: str, state: bytes, saved_at: datetime) -> None:
        with self._pool.borrow() as client:
            client.insert("detector_checkpoints", [[tenant_id, model, state, saved_at]],
                          column_names=["tenant_id", "model", "state", "saved_at"])

    def load_checkpoints(self, tenant_ids: list[str]) -> dict[str, tuple[str, bytes, datetime]]:
        """The latest checkpoint of each of these tenants: ``tenant -> (model, state, saved_at)``."""
        if not tenant_ids:
            return {}
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT tenant_id, model, state, saved_at FROM detector_checkpoints FINAL "
                "WHERE tenant_id IN {tenants:Array(String)}",
                parameters={"tenants": tenant_ids}, column_formats={"state": "bytes"},
            ).result_rows
        return {row[0]: (row[1], row[2], utc(row[3])) for row in rows}

    def checkpointed_tenants(self) -> list[str]:
        """Every tenant with detection state saved (a shard picks its own from these)."""
        with self._pool.borrow() as client:
            return [row[0] for row in client.query("SELECT DISTINCT tenant_id FROM detector_checkpoints").result_rows]

    def choose_model(self, tenant_id: str, kind: str, name: str, config: str, chosen_by: str, at: datetime) -> None:
        with self._pool.borrow() as client:
            client.insert("model_choices", [[tenant_id, kind, name, config, chosen_by, at]],
                          column_names=["tenant_id", "kind", "name", "config", "chosen_by", "chosen_at"])

    def model_choices(self, tenant_id: str) -> dict[str, tuple[str, str, datetime]]:
        """The model in force per kind for a tenant: ``kind -> (name, config JSON, chosen_at)``."""
        with self._pool.borrow() as client:
            rows = client.query(
                "SELECT kind, argMax(name, chosen_at), argMax(config, chosen_at), max(chosen_at) "
                "FROM model_choices WHERE tenant_id = {tenant_id:String} GROUP BY kind",
                parameters={"tenant_id": tenant_id},
            ).result_rows
        return {row[0]: (row[1], row[2], utc(row[3])) for row in rows}

    def points_since(self, tenant_id: str, since: datetime, limit: int) -> PointBatch | None:
        """A tenant's stored points after ``since`` (at most ``limit``, oldest first) as a batch,
        for a watchdog shard to catch up from after a restart or a model swap."""
        with self._pool.borrow() as client:
            table = client.query_arrow(
                "SELECT series_id, toUnixTimestamp64Milli(ts) AS ts_ms, value FROM metric_points FINAL "
                "WHERE tenant_id = {tenant_id:String} AND ts > {since:DateTime64(3, 'UTC')} "
                "ORDER BY ts LIMIT {limit:UInt32}",
                parameters={"tenant_id": tenant_id, "since": since, "limit": limit},
            )
            if table.num_rows == 0:
                return None
            ids = table.column("series_id").to_numpy().astype(np.uint64)
            unique, index = np.unique(ids, return_inverse=True)
            meta = {int(row[0]): (row[1], row[2], dict(row[3])) for row in client.query(
                "SELECT series_id, any(service_id), any(metric_name), any(labels) FROM series "
                "WHERE tenant_id = {tenant_id:String} AND series_id IN {ids:Array(UInt64)} GROUP BY series_id",
                parameters={"tenant_id": tenant_id, "ids": [int(i) for i in unique]},
            ).result_rows}
        known = [meta.get(int(i), ("", "", {})) for i in unique]
        return PointBatch(
            service_ids=[m[0] for m in known], metric_names=[m[1] for m in known], labels=[m[2] for m in known],
            series_ids=unique, series_index=index.astype(np.int32),
            timestamps_ms=table.column("ts_ms").to_numpy().astype(np.int64),
            values=table.column("value").to_numpy().astype(np.float64),
        )

    # -- anomaly counts -------------------------------------------------------------------
    def count_anomalies_since(self, since: datetime, tenant_id: str | None) -> int:
        """Anomalies detected since ``since``: one tenant's, or every tenant's when None."""
        predicate = "detected_at >= {since:DateTime64(3, 'UTC')}"
        parameters: dict = {"since": since}
        if tenant_id is not None:
            predicate = "tenant_id = {tenant_id:String} AND " + predicate
            parameters["tenant_id"] = tenant_id
        with self._pool.borrow() as client:
            return int(
                client.query(f"SELECT count() FROM anomalies FINAL WHERE {predicate}", parameters=parameters)
                .result_rows[0][0]
            )
