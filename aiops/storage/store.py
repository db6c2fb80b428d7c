"""The storage layer's one interface: the Store, composed of one repository per aggregate.

Every SQL statement the engine runs lives in :mod:`aiops.storage`, in the repository of the
tables it touches: tenants and API keys (:mod:`~aiops.storage.tenants`,
:mod:`~aiops.storage.api_keys`), metric points in and out (:mod:`~aiops.storage.point_writer`,
:mod:`~aiops.storage.series_queries`), anomalies, alerts, RCA requests and results, the
incident memory, incidents, notifications, detector state, spans, logs and the telemetry
rollup. The Store builds them over one client pool and offers each of their public methods
under one name (what the storage owner actor serves and :mod:`aiops.storage.gateway` calls,
typed for sync callers as the Store itself and for async ones as
:class:`~aiops.storage.async_store.AsyncStore`).

Queries are parameterised (``{name:Type}`` server-side binding) and every predicate on a
tenant-owned table names ``tenant_id``; the few methods that read across tenants say so
in their name (``list_all_tenants``) or docstring ("every tenant": the incident manager's and
the notifier's reads). Reads of ``ReplacingMergeTree`` tables use ``FINAL`` so an updated row is
seen once. The same class runs in the storage-owner actor (embedded chDB) or in any
process (ClickHouse server).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiops.settings import Settings
from aiops.storage.alert_queries import AlertRepository
from aiops.storage.anomaly_queries import AnomalyRepository
from aiops.storage.api_keys import ApiKeyRepository
from aiops.storage.batch_ledger import BatchLedger
from aiops.storage.client import ClientPool
from aiops.storage.detector_state import DetectorStateRepository
from aiops.storage.incident_memory_queries import IncidentMemoryRepository
from aiops.storage.incident_store import IncidentPage, IncidentRepository
from aiops.storage.log_queries import LogRepository
from aiops.storage.migrations import migrate
from aiops.storage.outbox import AttemptRow, ChannelRow, NotificationRepository, OutboxRow
from aiops.storage.point_writer import PointWriter
from aiops.storage.rca_queries import RcaRepository
from aiops.storage.records import (
    AlertOutcome,
    AlertRecord,
    AnomalyPage,
    AnomalyRecord,
    ApiKeyRecord,
    GraphSnapshot,
    IngestOutcome,
    RcaRecord,
    Resolution,
    ResolutionMatch,
    StoredSeries,
    TenantRecord,
)
from aiops.storage.rollup_queries import RollupRepository
from aiops.storage.series_queries import SeriesRepository
from aiops.storage.span_queries import SpanRepository
from aiops.storage.telemetry_records import (
    LogMinute,
    ObservedCall,
    ServiceMinute,
    StoredLog,
    StoredSpan,
    TelemetryOutcome,
    TemplateCount,
    TraceSummary,
)
from aiops.storage.telemetry_writes import TelemetryWriter
from aiops.storage.tenants import TenantRepository

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from aiops.incident.model import Incident
    from aiops.ingest.batch import PointBatch
    from models.telemetry.graph import Edge


class Store:
    """All reads and writes of the engine's ClickHouse tables.

    Each public method is one repository's, under the same signature, except the Store's own:
    ``close``, ``ping``, ``migrate`` and ``tables_containing`` (a whole-database audit). The
    repositories are private: callers use these methods, which the storage owner serves.
    """

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
        self._api_keys = ApiKeyRepository(self._pool, registry_lock)
        self._tenants = TenantRepository(self._pool, self._api_keys, registry_lock)
        ledger = BatchLedger(self._pool, only_writer=settings.embedded_storage)
        self._points = PointWriter(self._pool, ledger, only_writer=settings.embedded_storage)
        self._series = SeriesRepository(self._pool)
        self._anomalies = AnomalyRepository(self._pool)
        self._rca = RcaRepository(self._pool)
        self._alerts = AlertRepository(self._pool, self._anomalies, self._rca)
        self._incident_memory = IncidentMemoryRepository(self._pool)
        self._incidents = IncidentRepository(self._pool)
        self._notifications = NotificationRepository(self._pool)
        self._detector_state = DetectorStateRepository(self._pool)
        telemetry = TelemetryWriter(self._pool, ledger)
        self._spans = SpanRepository(self._pool, telemetry)
        self._logs = LogRepository(self._pool, telemetry)
        self._rollups = RollupRepository(self._pool)

    # -- lifecycle ----------------------------------------------------------------------------
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

    # -- tenants and API keys (TenantRepository, ApiKeyRepository) ----------------------------
    def create_tenant(self, tenant: TenantRecord) -> bool:
        return self._tenants.create(tenant)

    def delete_tenant(self, tenant_id: str, at: datetime) -> bool:
        return self._tenants.delete(tenant_id, at)

    def tenant_deleted_at(self, tenant_id: str) -> datetime | None:
        return self._tenants.deleted_at(tenant_id)

    def tenant_plan(self, tenant_id: str) -> str | None:
        return self._tenants.plan(tenant_id)

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        return self._tenants.get(tenant_id)

    def list_all_tenants(self) -> list[TenantRecord]:
        return self._tenants.list_all()

    def create_api_key(self, key: ApiKeyRecord) -> None:
        self._api_keys.create(key)

    def list_api_keys(self, tenant_id: str, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        return self._api_keys.list(tenant_id, include_revoked=include_revoked)

    def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        return self._api_keys.find_by_hash(key_hash)

    def revoke_api_key(self, tenant_id: str, key_id: str, at: datetime) -> bool:
        return self._api_keys.revoke(tenant_id, key_id, at)

    def touch_api_keys(self, uses: Sequence[tuple[str, str, datetime]]) -> None:
        self._api_keys.touch(uses)

    # -- audits -------------------------------------------------------------------------------
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

    # -- metric points in (PointWriter) -------------------------------------------------------
    def ingest_batch(self, tenant_id: str, points: pa.Table, series: pa.Table, digest: str, max_series: int,
                     counted: bool = True, keep_stored: bool = False) -> IngestOutcome:
        return self._points.ingest_batch(tenant_id, points, series, digest, max_series, counted, keep_stored)

    # -- metric points out, RCA's metric frames (SeriesRepository) ------------------------------
    def read_series(self, tenant_id: str, service_id: str, metric_name: str | None, since: datetime, until: datetime,
                    step_seconds: int | None, max_points: int) -> list[StoredSeries] | None:
        return self._series.read_series(tenant_id, service_id, metric_name, since, until, step_seconds, max_points)

    def points_since(self, tenant_id: str, since: datetime, limit: int) -> PointBatch | None:
        return self._series.points_since(tenant_id, since, limit)

    def metric_frame(self, tenant_id: str, since: datetime, until: datetime, step_seconds: int, max_series: int,
                     leave_out: Sequence[str] = ()) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
        return self._series.metric_frame(tenant_id, since, until, step_seconds, max_series, leave_out)

    def newest_point_at(self, tenant_id: str) -> datetime | None:
        return self._series.newest_point_at(tenant_id)

    def service_known(self, tenant_id: str, service_id: str) -> bool:
        return self._series.service_known(tenant_id, service_id)

    def tenants_with_points_since(self, since: datetime) -> list[str]:
        return self._series.tenants_with_points_since(since)

    # -- anomalies (AnomalyRepository) --------------------------------------------------------
    def upsert_anomalies(self, anomalies: list[AnomalyRecord]) -> None:
        return self._anomalies.upsert_anomalies(anomalies)

    def get_anomaly(self, tenant_id: str, anomaly_id: str) -> AnomalyRecord | None:
        return self._anomalies.get_anomaly(tenant_id, anomaly_id)

    def list_anomalies(self, tenant_id: str, *, service_id: str | None = None, since: datetime | None = None,
                       until: datetime | None = None, min_score: float | None = None, limit: int = 50,
                       after: tuple[datetime, str] | None = None) -> AnomalyPage:
        return self._anomalies.list_anomalies(tenant_id, service_id=service_id, since=since, until=until,
                                              min_score=min_score, limit=limit, after=after)

    def count_anomalies_since(self, since: datetime, tenant_id: str | None) -> int:
        return self._anomalies.count_anomalies_since(since, tenant_id)

    def anomalies_changed_since(self, since: datetime, limit: int) -> list[AnomalyRecord]:
        return self._anomalies.anomalies_changed_since(since, limit)

    # -- alerts (AlertRepository) -------------------------------------------------------------
    def record_alert_notices(self, notices: list[AlertRecord], fresh: list[AnomalyRecord], link_window: timedelta,
                             at: datetime) -> AlertOutcome:
        return self._alerts.record_alert_notices(notices, fresh, link_window, at)

    def save_alerts(self, alerts: list[AlertRecord]) -> None:
        return self._alerts.save_alerts(alerts)

    def list_alerts(self, tenant_id: str, anomaly_id: str) -> list[AlertRecord]:
        return self._alerts.list_alerts(tenant_id, anomaly_id)

    def alert_ends(self, tenant_id: str, anomaly_ids: list[str]) -> dict[str, datetime]:
        return self._alerts.alert_ends(tenant_id, anomaly_ids)

    # -- RCA requests and results, correlation graphs, topology (RcaRepository) ---------------
    def request_rcas(self, tenant_id: str, anomaly_ids: list[str], at: datetime, priority: int = 0) -> int:
        return self._rca.request_rcas(tenant_id, anomaly_ids, at, priority)

    def save_rca(self, record: RcaRecord) -> None:
        return self._rca.save_rca(record)

    def get_rca(self, tenant_id: str, anomaly_id: str) -> RcaRecord | None:
        return self._rca.get_rca(tenant_id, anomaly_id)

    def rca_queue_all_tenants(self, limit: int) -> list[RcaRecord]:
        return self._rca.rca_queue_all_tenants(limit)

    def save_graph(self, tenant_id: str, services: list[str], edges: list[Edge], computed_at: datetime,
                   window: tuple[datetime, datetime]) -> None:
        return self._rca.save_graph(tenant_id, services, edges, computed_at, window)

    def load_graph(self, tenant_id: str) -> GraphSnapshot | None:
        return self._rca.load_graph(tenant_id)

    def save_topology(self, tenant_id: str, calls: list[tuple[str, str]], declared_by: str, at: datetime) -> None:
        return self._rca.save_topology(tenant_id, calls, declared_by, at)

    def load_topology(self, tenant_id: str) -> tuple[list[tuple[str, str]], str, datetime] | None:
        return self._rca.load_topology(tenant_id)

    # -- the incident memory (IncidentMemoryRepository) ---------------------------------------
    def save_resolution(self, record: Resolution) -> None:
        return self._incident_memory.save_resolution(record)

    def get_resolution(self, tenant_id: str, resolution_id: str) -> Resolution | None:
        return self._incident_memory.get_resolution(tenant_id, resolution_id)

    def has_resolutions(self, tenant_id: str) -> bool:
        return self._incident_memory.has_resolutions(tenant_id)

    def resolution_backlog_tenants(self, default_model: str) -> list[str]:
        return self._incident_memory.resolution_backlog_tenants(default_model)

    def resolutions_to_embed(self, tenant_id: str, model: str, limit: int) -> list[Resolution]:
        return self._incident_memory.resolutions_to_embed(tenant_id, model, limit)

    def search_resolutions(self, tenant_id: str, vector: list[float], model: str, limit: int) -> list[ResolutionMatch]:
        return self._incident_memory.search_resolutions(tenant_id, vector, model, limit)

    # -- incidents (IncidentRepository) -------------------------------------------------------
    def save_incidents(self, incidents: list[Incident], at: datetime) -> None:
        return self._incidents.save_incidents(incidents, at)

    def get_incident(self, tenant_id: str, incident_id: str) -> Incident | None:
        return self._incidents.get_incident(tenant_id, incident_id)

    def list_incidents(self, tenant_id: str, *, status: str | None = None, service_id: str | None = None,
                       since: datetime | None = None, until: datetime | None = None, min_severity: int | None = None,
                       limit: int = 50, after: tuple[datetime, str] | None = None) -> IncidentPage:
        return self._incidents.list_incidents(tenant_id, status=status, service_id=service_id, since=since,
                                              until=until, min_severity=min_severity, limit=limit, after=after)

    def incidents_to_restore(self, resolved_kept: int) -> list[Incident]:
        return self._incidents.incidents_to_restore(resolved_kept)

    def incident_cursor(self, name: str) -> datetime | None:
        return self._incidents.incident_cursor(name)

    def save_incident_cursor(self, name: str, position: datetime, at: datetime) -> None:
        return self._incidents.save_incident_cursor(name, position, at)

    # -- notification channels and the outbox (NotificationRepository) ------------------------
    def add_channel(self, channel: ChannelRow, at: datetime, cap: int) -> int | None:
        return self._notifications.add_channel(channel, at, cap)

    def save_channel(self, channel: ChannelRow, at: datetime) -> None:
        return self._notifications.save_channel(channel, at)

    def list_channels(self, tenant_id: str) -> list[ChannelRow]:
        return self._notifications.list_channels(tenant_id)

    def channels_of_type(self, type_: str) -> list[ChannelRow]:
        return self._notifications.channels_of_type(type_)

    def delete_channel(self, tenant_id: str, channel_id: str, at: datetime) -> bool:
        return self._notifications.delete_channel(tenant_id, channel_id, at)

    def enqueue_notifications(self, rows: list[OutboxRow], at: datetime) -> None:
        return self._notifications.enqueue_notifications(rows, at)

    def due_notifications(self, now: datetime, limit: int) -> list[OutboxRow]:
        return self._notifications.due_notifications(now, limit)

    def incident_notifications(self, tenant_id: str, incident_id: str) -> list[OutboxRow]:
        return self._notifications.incident_notifications(tenant_id, incident_id)

    def record_delivery(self, row: OutboxRow, attempt: AttemptRow, at: datetime) -> None:
        return self._notifications.record_delivery(row, attempt, at)

    def delivery_attempts(self, tenant_id: str, incident_id: str, limit: int = 500) -> list[AttemptRow]:
        return self._notifications.delivery_attempts(tenant_id, incident_id, limit)

    # -- detector checkpoints and model choices (DetectorStateRepository) ---------------------
    def save_checkpoint(self, tenant_id: str, model: str, state: bytes, saved_at: datetime) -> None:
        return self._detector_state.save_checkpoint(tenant_id, model, state, saved_at)

    def load_checkpoints(self, tenant_ids: list[str]) -> dict[str, tuple[str, bytes, datetime]]:
        return self._detector_state.load_checkpoints(tenant_ids)

    def checkpointed_tenants(self) -> list[str]:
        return self._detector_state.checkpointed_tenants()

    def choose_model(self, tenant_id: str, kind: str, name: str, config: str, chosen_by: str, at: datetime) -> None:
        return self._detector_state.choose_model(tenant_id, kind, name, config, chosen_by, at)

    def model_choices(self, tenant_id: str) -> dict[str, tuple[str, str, datetime]]:
        return self._detector_state.model_choices(tenant_id)

    # -- spans (SpanRepository) ---------------------------------------------------------------
    def ingest_spans(self, tenant_id: str, spans: pa.Table, digest: str, max_span_names: int) -> TelemetryOutcome:
        return self._spans.ingest_spans(tenant_id, spans, digest, max_span_names)

    def spans_in_window(self, tenant_id: str, since: datetime, until: datetime, limit: int,
                        services: list[str] | None = None) -> pa.Table:
        return self._spans.spans_in_window(tenant_id, since, until, limit, services)

    def list_traces(self, tenant_id: str, service_id: str | None, since: datetime, until: datetime, limit: int
                    ) -> list[TraceSummary]:
        return self._spans.list_traces(tenant_id, service_id, since, until, limit)

    def get_trace(self, tenant_id: str, trace_id: str, limit: int) -> list[StoredSpan]:
        return self._spans.get_trace(tenant_id, trace_id, limit)

    def span_minute(self, tenant_id: str, minute: datetime) -> list[ServiceMinute]:
        return self._spans.span_minute(tenant_id, minute)

    def record_service_calls(self, tenant_id: str, minute: datetime) -> int:
        return self._spans.record_service_calls(tenant_id, minute)

    def observed_calls(self, tenant_id: str, since: datetime, until: datetime) -> list[ObservedCall]:
        return self._spans.observed_calls(tenant_id, since, until)

    # -- log records and templates (LogRepository) --------------------------------------------
    def ingest_logs(self, tenant_id: str, logs: pa.Table, digest: str) -> TelemetryOutcome:
        return self._logs.ingest_logs(tenant_id, logs, digest)

    def logs_in_window(self, tenant_id: str, since: datetime, until: datetime, limit: int,
                       services: list[str] | None = None) -> pa.Table:
        return self._logs.logs_in_window(tenant_id, since, until, limit, services)

    def list_logs(self, tenant_id: str, service_id: str | None, since: datetime, until: datetime, min_severity: int,
                  limit: int) -> list[StoredLog]:
        return self._logs.list_logs(tenant_id, service_id, since, until, min_severity, limit)

    def log_templates_in_window(self, tenant_id: str, service_id: str | None, since: datetime, until: datetime,
                                min_severity: int, limit: int) -> list[TemplateCount]:
        return self._logs.log_templates_in_window(tenant_id, service_id, since, until, min_severity, limit)

    def log_template_counts(self, tenant_id: str, since: datetime, until: datetime) -> pa.Table:
        return self._logs.log_template_counts(tenant_id, since, until)

    def log_minute(self, tenant_id: str, minute: datetime) -> LogMinute:
        return self._logs.log_minute(tenant_id, minute)

    def save_log_templates(self, tenant_id: str, templates: list[tuple[int, str, datetime, datetime]],
                           shapes: list[tuple[int, int]], counts: list[tuple[datetime, str, int, str, int, int]],
                           at: datetime) -> None:
        return self._logs.save_log_templates(tenant_id, templates, shapes, counts, at)

    def load_log_templates(self, tenant_id: str) -> list[tuple[int, str, datetime, datetime]]:
        return self._logs.load_log_templates(tenant_id)

    # -- the telemetry rollup (RollupRepository) ----------------------------------------------
    def telemetry_minutes_pending_all_tenants(self, since: datetime, until: datetime, quiet_since: datetime,
                                              limit: int) -> list[tuple[str, str, datetime]]:
        return self._rollups.telemetry_minutes_pending_all_tenants(since, until, quiet_since, limit)

    def mark_rolled_up(self, tenant_id: str, signal: str, minute: datetime, at: datetime) -> None:
        return self._rollups.mark_rolled_up(tenant_id, signal, minute, at)
