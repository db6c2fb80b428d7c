"""The Store's methods for async callers, typed: :attr:`StoreGateway.aio <aiops.storage.gateway.StoreGateway.aio>`.

Each method is the :class:`~aiops.storage.store.Store` method of the same name, awaited: the
same parameters, defaults and return type (``tests/aiops/storage/test_gateway_types.py`` holds
every public Store method here with its signature), run in a worker thread when the store is
in this process and on the storage owner actor otherwise. Nothing is reached by name at run
time, so a call type-checks against the Store's own contract and a typo fails in ``mypy``.
A Store method added later is added here too (the test says which is missing); methods are
grouped by repository, in the Store's order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    import numpy as np
    import pyarrow as pa

    from aiops.incident.model import Incident
    from aiops.ingest.batch import PointBatch
    from aiops.storage.gateway import StoreGateway
    from aiops.storage.incident_store import IncidentPage
    from aiops.storage.outbox import AttemptRow, ChannelRow, OutboxRow
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
    from models.telemetry.graph import Edge


class AsyncStore:
    """Every public Store method but ``close``, awaited (see the module docstring)."""

    def __init__(self, gateway: StoreGateway) -> None:
        self._gateway = gateway

    # -- lifecycle ----------------------------------------------------------------------------
    async def ping(self) -> str:
        return cast("str", await self._gateway.call_async("ping"))

    async def migrate(self) -> list[int]:
        return cast("list[int]", await self._gateway.call_async("migrate"))

    # -- tenants and API keys (TenantRepository, ApiKeyRepository) ----------------------------
    async def create_tenant(self, tenant: TenantRecord) -> bool:
        return cast("bool", await self._gateway.call_async("create_tenant", tenant))

    async def delete_tenant(self, tenant_id: str, at: datetime) -> bool:
        return cast("bool", await self._gateway.call_async("delete_tenant", tenant_id, at))

    async def tenant_deleted_at(self, tenant_id: str) -> datetime | None:
        return cast("datetime | None", await self._gateway.call_async("tenant_deleted_at", tenant_id))

    async def tenant_plan(self, tenant_id: str) -> str | None:
        return cast("str | None", await self._gateway.call_async("tenant_plan", tenant_id))

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        return cast("TenantRecord | None", await self._gateway.call_async("get_tenant", tenant_id))

    async def list_all_tenants(self) -> list[TenantRecord]:
        return cast("list[TenantRecord]", await self._gateway.call_async("list_all_tenants"))

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        await self._gateway.call_async("create_api_key", key)

    async def list_api_keys(self, tenant_id: str, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        return cast(
            "list[ApiKeyRecord]",
            await self._gateway.call_async("list_api_keys", tenant_id, include_revoked=include_revoked),
        )

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        return cast("ApiKeyRecord | None", await self._gateway.call_async("find_api_key_by_hash", key_hash))

    async def revoke_api_key(self, tenant_id: str, key_id: str, at: datetime) -> bool:
        return cast("bool", await self._gateway.call_async("revoke_api_key", tenant_id, key_id, at))

    async def touch_api_keys(self, uses: Sequence[tuple[str, str, datetime]]) -> None:
        await self._gateway.call_async("touch_api_keys", uses)

    # -- audits -------------------------------------------------------------------------------
    async def tables_containing(self, needle: str) -> list[str]:
        return cast("list[str]", await self._gateway.call_async("tables_containing", needle))

    # -- metric points in (PointWriter) -------------------------------------------------------
    async def ingest_batch(
        self,
        tenant_id: str,
        points: pa.Table,
        series: pa.Table,
        digest: str,
        max_series: int,
        counted: bool = True,
        keep_stored: bool = False,
    ) -> IngestOutcome:
        return cast(
            "IngestOutcome",
            await self._gateway.call_async(
                "ingest_batch", tenant_id, points, series, digest, max_series, counted, keep_stored
            ),
        )

    # -- metric points out, RCA's metric frames (SeriesRepository) ------------------------------
    async def read_series(
        self,
        tenant_id: str,
        service_id: str,
        metric_name: str | None,
        since: datetime,
        until: datetime,
        step_seconds: int | None,
        max_points: int,
    ) -> list[StoredSeries] | None:
        return cast(
            "list[StoredSeries] | None",
            await self._gateway.call_async(
                "read_series", tenant_id, service_id, metric_name, since, until, step_seconds, max_points
            ),
        )

    async def points_since(self, tenant_id: str, since: datetime, limit: int) -> PointBatch | None:
        return cast("PointBatch | None", await self._gateway.call_async("points_since", tenant_id, since, limit))

    async def metric_frame(
        self, tenant_id: str, since: datetime, until: datetime, step_seconds: int, max_series: int,
        leave_out: Sequence[str] = (),
    ) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
        return cast(
            "tuple[np.ndarray, list[str], list[str], np.ndarray]",
            await self._gateway.call_async("metric_frame", tenant_id, since, until, step_seconds, max_series,
                                           leave_out),
        )

    async def newest_point_at(self, tenant_id: str) -> datetime | None:
        return cast("datetime | None", await self._gateway.call_async("newest_point_at", tenant_id))

    async def service_known(self, tenant_id: str, service_id: str) -> bool:
        return cast("bool", await self._gateway.call_async("service_known", tenant_id, service_id))

    async def tenants_with_points_since(self, since: datetime) -> list[str]:
        return cast("list[str]", await self._gateway.call_async("tenants_with_points_since", since))

    # -- anomalies (AnomalyRepository) --------------------------------------------------------
    async def upsert_anomalies(self, anomalies: list[AnomalyRecord]) -> None:
        await self._gateway.call_async("upsert_anomalies", anomalies)

    async def get_anomaly(self, tenant_id: str, anomaly_id: str) -> AnomalyRecord | None:
        return cast("AnomalyRecord | None", await self._gateway.call_async("get_anomaly", tenant_id, anomaly_id))

    async def list_anomalies(
        self,
        tenant_id: str,
        *,
        service_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_score: float | None = None,
        limit: int = 50,
        after: tuple[datetime, str] | None = None,
    ) -> AnomalyPage:
        return cast(
            "AnomalyPage",
            await self._gateway.call_async(
                "list_anomalies",
                tenant_id,
                service_id=service_id,
                since=since,
                until=until,
                min_score=min_score,
                limit=limit,
                after=after,
            ),
        )

    async def count_anomalies_since(self, since: datetime, tenant_id: str | None) -> int:
        return cast("int", await self._gateway.call_async("count_anomalies_since", since, tenant_id))

    async def anomalies_changed_since(self, since: datetime, limit: int) -> list[AnomalyRecord]:
        return cast("list[AnomalyRecord]", await self._gateway.call_async("anomalies_changed_since", since, limit))

    # -- alerts (AlertRepository) -------------------------------------------------------------
    async def record_alert_notices(
        self, notices: list[AlertRecord], fresh: list[AnomalyRecord], link_window: timedelta, at: datetime
    ) -> AlertOutcome:
        return cast(
            "AlertOutcome", await self._gateway.call_async("record_alert_notices", notices, fresh, link_window, at)
        )

    async def save_alerts(self, alerts: list[AlertRecord]) -> None:
        await self._gateway.call_async("save_alerts", alerts)

    async def list_alerts(self, tenant_id: str, anomaly_id: str) -> list[AlertRecord]:
        return cast("list[AlertRecord]", await self._gateway.call_async("list_alerts", tenant_id, anomaly_id))

    async def alert_ends(self, tenant_id: str, anomaly_ids: list[str]) -> dict[str, datetime]:
        return cast("dict[str, datetime]", await self._gateway.call_async("alert_ends", tenant_id, anomaly_ids))

    # -- RCA requests and results, correlation graphs, topology (RcaRepository) ---------------
    async def request_rcas(self, tenant_id: str, anomaly_ids: list[str], at: datetime, priority: int = 0) -> int:
        return cast("int", await self._gateway.call_async("request_rcas", tenant_id, anomaly_ids, at, priority))

    async def save_rca(self, record: RcaRecord) -> None:
        await self._gateway.call_async("save_rca", record)

    async def get_rca(self, tenant_id: str, anomaly_id: str) -> RcaRecord | None:
        return cast("RcaRecord | None", await self._gateway.call_async("get_rca", tenant_id, anomaly_id))

    async def rca_queue_all_tenants(self, limit: int) -> list[RcaRecord]:
        return cast("list[RcaRecord]", await self._gateway.call_async("rca_queue_all_tenants", limit))

    async def save_graph(
        self,
        tenant_id: str,
        services: list[str],
        edges: list[Edge],
        computed_at: datetime,
        window: tuple[datetime, datetime],
    ) -> None:
        await self._gateway.call_async("save_graph", tenant_id, services, edges, computed_at, window)

    async def load_graph(self, tenant_id: str) -> GraphSnapshot | None:
        return cast("GraphSnapshot | None", await self._gateway.call_async("load_graph", tenant_id))

    async def save_topology(self, tenant_id: str, calls: list[tuple[str, str]], declared_by: str, at: datetime) -> None:
        await self._gateway.call_async("save_topology", tenant_id, calls, declared_by, at)

    async def load_topology(self, tenant_id: str) -> tuple[list[tuple[str, str]], str, datetime] | None:
        return cast(
            "tuple[list[tuple[str, str]], str, datetime] | None",
            await self._gateway.call_async("load_topology", tenant_id),
        )

    # -- the incident memory (IncidentMemoryRepository) ---------------------------------------
    async def save_resolution(self, record: Resolution) -> None:
        await self._gateway.call_async("save_resolution", record)

    async def get_resolution(self, tenant_id: str, resolution_id: str) -> Resolution | None:
        return cast("Resolution | None", await self._gateway.call_async("get_resolution", tenant_id, resolution_id))

    async def has_resolutions(self, tenant_id: str) -> bool:
        return cast("bool", await self._gateway.call_async("has_resolutions", tenant_id))

    async def resolution_backlog_tenants(self, default_model: str) -> list[str]:
        return cast("list[str]", await self._gateway.call_async("resolution_backlog_tenants", default_model))

    async def resolutions_to_embed(self, tenant_id: str, model: str, limit: int) -> list[Resolution]:
        return cast("list[Resolution]", await self._gateway.call_async("resolutions_to_embed", tenant_id, model, limit))

    async def search_resolutions(
        self, tenant_id: str, vector: list[float], model: str, limit: int
    ) -> list[ResolutionMatch]:
        return cast(
            "list[ResolutionMatch]",
            await self._gateway.call_async("search_resolutions", tenant_id, vector, model, limit),
        )

    # -- incidents (IncidentRepository) -------------------------------------------------------
    async def save_incidents(self, incidents: list[Incident], at: datetime) -> None:
        await self._gateway.call_async("save_incidents", incidents, at)

    async def get_incident(self, tenant_id: str, incident_id: str) -> Incident | None:
        return cast("Incident | None", await self._gateway.call_async("get_incident", tenant_id, incident_id))

    async def list_incidents(
        self,
        tenant_id: str,
        *,
        status: str | None = None,
        service_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_severity: int | None = None,
        limit: int = 50,
        after: tuple[datetime, str] | None = None,
    ) -> IncidentPage:
        return cast(
            "IncidentPage",
            await self._gateway.call_async(
                "list_incidents",
                tenant_id,
                status=status,
                service_id=service_id,
                since=since,
                until=until,
                min_severity=min_severity,
                limit=limit,
                after=after,
            ),
        )

    async def incidents_to_restore(self, resolved_kept: int) -> list[Incident]:
        return cast("list[Incident]", await self._gateway.call_async("incidents_to_restore", resolved_kept))

    async def incident_cursor(self, name: str) -> datetime | None:
        return cast("datetime | None", await self._gateway.call_async("incident_cursor", name))

    async def save_incident_cursor(self, name: str, position: datetime, at: datetime) -> None:
        await self._gateway.call_async("save_incident_cursor", name, position, at)

    # -- notification channels and the outbox (NotificationRepository) ------------------------
    async def add_channel(self, channel: ChannelRow, at: datetime, cap: int) -> int | None:
        return cast("int | None", await self._gateway.call_async("add_channel", channel, at, cap))

    async def save_channel(self, channel: ChannelRow, at: datetime) -> None:
        await self._gateway.call_async("save_channel", channel, at)

    async def list_channels(self, tenant_id: str) -> list[ChannelRow]:
        return cast("list[ChannelRow]", await self._gateway.call_async("list_channels", tenant_id))

    async def channels_of_type(self, type_: str) -> list[ChannelRow]:
        return cast("list[ChannelRow]", await self._gateway.call_async("channels_of_type", type_))

    async def delete_channel(self, tenant_id: str, channel_id: str, at: datetime) -> bool:
        return cast("bool", await self._gateway.call_async("delete_channel", tenant_id, channel_id, at))

    async def enqueue_notifications(self, rows: list[OutboxRow], at: datetime) -> None:
        await self._gateway.call_async("enqueue_notifications", rows, at)

    async def due_notifications(self, now: datetime, limit: int) -> list[OutboxRow]:
        return cast("list[OutboxRow]", await self._gateway.call_async("due_notifications", now, limit))

    async def incident_notifications(self, tenant_id: str, incident_id: str) -> list[OutboxRow]:
        return cast("list[OutboxRow]", await self._gateway.call_async("incident_notifications", tenant_id, incident_id))

    async def record_delivery(self, row: OutboxRow, attempt: AttemptRow, at: datetime) -> None:
        await self._gateway.call_async("record_delivery", row, attempt, at)

    async def delivery_attempts(self, tenant_id: str, incident_id: str, limit: int = 500) -> list[AttemptRow]:
        return cast(
            "list[AttemptRow]", await self._gateway.call_async("delivery_attempts", tenant_id, incident_id, limit)
        )

    # -- detector checkpoints and model choices (DetectorStateRepository) ---------------------
    async def save_checkpoint(self, tenant_id: str, model: str, state: bytes, saved_at: datetime) -> None:
        await self._gateway.call_async("save_checkpoint", tenant_id, model, state, saved_at)

    async def load_checkpoints(self, tenant_ids: list[str]) -> dict[str, tuple[str, bytes, datetime]]:
        return cast(
            "dict[str, tuple[str, bytes, datetime]]", await self._gateway.call_async("load_checkpoints", tenant_ids)
        )

    async def checkpointed_tenants(self) -> list[str]:
        return cast("list[str]", await self._gateway.call_async("checkpointed_tenants"))

    async def choose_model(
        self, tenant_id: str, kind: str, name: str, config: str, chosen_by: str, at: datetime
    ) -> None:
        await self._gateway.call_async("choose_model", tenant_id, kind, name, config, chosen_by, at)

    async def model_choices(self, tenant_id: str) -> dict[str, tuple[str, str, datetime]]:
        return cast("dict[str, tuple[str, str, datetime]]", await self._gateway.call_async("model_choices", tenant_id))

    # -- spans (SpanRepository) ---------------------------------------------------------------
    async def ingest_spans(self, tenant_id: str, spans: pa.Table, digest: str, max_span_names: int) -> TelemetryOutcome:
        return cast(
            "TelemetryOutcome", await self._gateway.call_async("ingest_spans", tenant_id, spans, digest, max_span_names)
        )

    async def spans_in_window(
        self, tenant_id: str, since: datetime, until: datetime, limit: int, services: list[str] | None = None
    ) -> pa.Table:
        return cast(
            "pa.Table", await self._gateway.call_async("spans_in_window", tenant_id, since, until, limit, services)
        )

    async def list_traces(
        self, tenant_id: str, service_id: str | None, since: datetime, until: datetime, limit: int
    ) -> list[TraceSummary]:
        return cast(
            "list[TraceSummary]",
            await self._gateway.call_async("list_traces", tenant_id, service_id, since, until, limit),
        )

    async def get_trace(self, tenant_id: str, trace_id: str, limit: int) -> list[StoredSpan]:
        return cast("list[StoredSpan]", await self._gateway.call_async("get_trace", tenant_id, trace_id, limit))

    async def span_minute(self, tenant_id: str, minute: datetime) -> list[ServiceMinute]:
        return cast("list[ServiceMinute]", await self._gateway.call_async("span_minute", tenant_id, minute))

    async def record_service_calls(self, tenant_id: str, minute: datetime) -> int:
        return cast("int", await self._gateway.call_async("record_service_calls", tenant_id, minute))

    async def observed_calls(self, tenant_id: str, since: datetime, until: datetime) -> list[ObservedCall]:
        return cast("list[ObservedCall]", await self._gateway.call_async("observed_calls", tenant_id, since, until))

    # -- log records and templates (LogRepository) --------------------------------------------
    async def ingest_logs(self, tenant_id: str, logs: pa.Table, digest: str) -> TelemetryOutcome:
        return cast("TelemetryOutcome", await self._gateway.call_async("ingest_logs", tenant_id, logs, digest))

    async def logs_in_window(
        self, tenant_id: str, since: datetime, until: datetime, limit: int, services: list[str] | None = None
    ) -> pa.Table:
        return cast(
            "pa.Table", await self._gateway.call_async("logs_in_window", tenant_id, since, until, limit, services)
        )

    async def list_logs(
        self, tenant_id: str, service_id: str | None, since: datetime, until: datetime, min_severity: int, limit: int
    ) -> list[StoredLog]:
        return cast(
            "list[StoredLog]",
            await self._gateway.call_async("list_logs", tenant_id, service_id, since, until, min_severity, limit),
        )

    async def log_templates_in_window(
        self, tenant_id: str, service_id: str | None, since: datetime, until: datetime, min_severity: int, limit: int
    ) -> list[TemplateCount]:
        return cast(
            "list[TemplateCount]",
            await self._gateway.call_async(
                "log_templates_in_window", tenant_id, service_id, since, until, min_severity, limit
            ),
        )

    async def log_template_counts(self, tenant_id: str, since: datetime, until: datetime) -> pa.Table:
        return cast("pa.Table", await self._gateway.call_async("log_template_counts", tenant_id, since, until))

    async def log_minute(self, tenant_id: str, minute: datetime) -> LogMinute:
        return cast("LogMinute", await self._gateway.call_async("log_minute", tenant_id, minute))

    async def save_log_templates(
        self,
        tenant_id: str,
        templates: list[tuple[int, str, datetime, datetime]],
        shapes: list[tuple[int, int]],
        counts: list[tuple[datetime, str, int, str, int, int]],
        at: datetime,
    ) -> None:
        await self._gateway.call_async("save_log_templates", tenant_id, templates, shapes, counts, at)

    async def load_log_templates(self, tenant_id: str) -> list[tuple[int, str, datetime, datetime]]:
        return cast(
            "list[tuple[int, str, datetime, datetime]]", await self._gateway.call_async("load_log_templates", tenant_id)
        )

    # -- the telemetry rollup (RollupRepository) ----------------------------------------------
    async def telemetry_minutes_pending_all_tenants(
        self, since: datetime, until: datetime, quiet_since: datetime, limit: int
    ) -> list[tuple[str, str, datetime]]:
        return cast(
            "list[tuple[str, str, datetime]]",
            await self._gateway.call_async("telemetry_minutes_pending_all_tenants", since, until, quiet_since, limit),
        )

    async def mark_rolled_up(self, tenant_id: str, signal: str, minute: datetime, at: datetime) -> None:
        await self._gateway.call_async("mark_rolled_up", tenant_id, signal, minute, at)
