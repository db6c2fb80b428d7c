"""Engine settings: ``configs/engine.yaml`` overridden by ``AIOPS_*`` environment variables.

One validated object, built once by the process that starts the engine (or by a CLI
command) and handed to every actor and deployment as a constructor argument, so no Ray
worker re-reads files or the environment on import. Unknown keys are refused, and every
error names the key (and the environment variable that sets it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from aiops.incident.settings import IncidentGroupingSettings
from aiops.notify.settings import NotificationSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "engine.yaml"
ENV_PREFIX = "AIOPS_"
CONFIG_ENV = "AIOPS_CONFIG"


class SettingsError(ValueError):
    """Settings could not be loaded; the message names every bad key."""


class Section(BaseModel):
    """A nested settings block: unknown keys are errors, not warnings."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestSettings(Section):
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_past_seconds: int = Field(7 * 24 * 3600, gt=0)
    max_future_seconds: int = Field(300, ge=0)
    max_batches_in_flight: int = Field(16, ge=1, le=1024)
    shard_queue: int = Field(64, ge=1, le=100_000)
    max_points_per_read: int = Field(200_000, ge=1)
    # Bounds on one batch, checked before any per-series or per-point work, so the worst
    # body within them stays cheap (RELIABILITY.md has the figures per route).
    max_decompressed_bytes: int = Field(32 * 1024 * 1024, gt=0)  # a compressed body may inflate to this
    max_series_per_batch: int = Field(10_000, ge=1)
    max_points_per_batch: int = Field(500_000, ge=1)  # and at most twice the plan's points_per_second


class RetentionSettings(Section):
    """Days each table keeps its rows (ClickHouse TTL, applied at every start)."""

    metric_points_days: int = Field(30, gt=0)
    anomalies_days: int = Field(365, gt=0)
    rca_results_days: int = Field(365, gt=0)
    correlation_edges_days: int = Field(90, gt=0)
    alerts_days: int = Field(365, gt=0)
    knowledge_base_days: int = Field(3650, gt=0)
    spans_days: int = Field(7, gt=0)  # spans, trace index, observed calls, span names
    logs_days: int = Field(7, gt=0)  # log records and their templates


class OtlpSettings(Section):
    """OTLP/HTTP receivers (``/v1/traces``, ``/v1/metrics``, ``/v1/logs``) and what spans and logs become."""

    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)  # as received (compressed): 413 before decompressing
    # Bounds on one request, each checked before the work it bounds, so the worst body within
    # them stays cheap (RELIABILITY.md, kind 1): parsed protobuf takes up to ~8x its size in
    # memory, parsed JSON ~10x and is parsed by pure Python.
    max_decompressed_bytes: int = Field(16 * 1024 * 1024, gt=0)  # a body (gzip inflated) is at most this
    max_json_bytes: int = Field(2 * 1024 * 1024, gt=0)  # and a JSON body at most this
    max_items_per_request: int = Field(10_000, ge=1)  # spans, log records or data points; and 2x the plan's rate
    decode_in_thread_bytes: int = Field(64 * 1024, ge=0)  # larger bodies are decoded off the event loop
    max_attributes: int = Field(32, ge=0, le=63)  # per span or record (first ones kept); data points: refused past
    max_attribute_key_chars: int = Field(128, ge=1, le=128)
    max_attribute_value_chars: int = Field(1024, ge=1, le=1024)  # longer values are cut (data points: refused)
    max_log_body_chars: int = Field(4096, ge=1, le=1_000_000)  # longer bodies are cut
    max_span_names: int = Field(10_000, ge=1)  # distinct (service, span name) per tenant; spans past it are refused
    max_spans_per_trace_read: int = Field(10_000, ge=1)  # GET /api/v1/traces/{id} returns at most this many
    rollup_workers: int = Field(1, ge=1, le=64)  # telemetry-rollup-<n> actors; tenants are hashed onto them
    rollup_interval_seconds: float = Field(5.0, gt=0)  # how often closed minutes are looked for
    rollup_lateness_seconds: float = Field(30.0, ge=0)  # a minute is closed this long after it ends
    rollup_lookback_minutes: int = Field(120, ge=1, le=10_080)  # minutes not yet rolled up are looked for this far back
    templates_per_tenant: int = Field(1000, ge=1, le=100_000)  # log templates (Drain clusters) kept per tenant
    template_similarity: float = Field(0.4, gt=0, le=1)  # Drain's sim_th: how alike a message and a template must be
    template_shapes_per_minute: int = Field(5000, ge=1)  # new message shapes mined per tenant and minute


class StorageSettings(Section):
    pool_size: int = Field(4, ge=1, le=64)
    query_timeout_seconds: float = Field(30.0, gt=0)


CPUS_PER_ACTOR = 4
"""``auto`` counts: one watchdog shard (and its vectorizer) or RCA worker per this many CPUs."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers and ``taskset`` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def auto_count(value: Any) -> Any:
    """``"auto"``: one per :data:`CPUS_PER_ACTOR` CPUs of the machine that loads the settings,
    at least 1 (2 cores: 1; 8 cores: 2). Each is a process of its own (a vectorizer holds torch
    and its model, ~0.6 GiB), so a small machine runs one of each. A number: as given.

    Raises ``ValueError`` for other text (``"two"``), so the error names both forms."""
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "auto":
            return max(1, usable_cpus() // CPUS_PER_ACTOR)
        if not text.isdigit():
            raise ValueError(f'a whole number or "auto" (one per {CPUS_PER_ACTOR} CPUs), not {value!r}')
    return value


class WatchdogSettings(Section):
    shards: int = Field(default_factory=lambda: auto_count("auto"), ge=1, le=1024)  # or "auto" (auto_count)
    detector: str = "seasonal_multiscale"
    rca_threshold: float = Field(0.95, gt=0, le=1)
    close_after: int = Field(3, ge=1, le=1000)
    checkpoint_seconds: float = Field(30.0, gt=0)
    warmup_hours: float = Field(24.0, gt=0)
    warmup_points: int = Field(200_000, ge=0)

    _auto_shards = field_validator("shards", mode="before")(auto_count)


class VectorizerSettings(Section):
    model: str = "minilm"
    batch_size: int = Field(64, ge=1, le=4096)
    flush_ms: float = Field(5.0, ge=0)
    gpu_fraction: float = Field(0.25, gt=0, le=1)


class RcaSettings(Section):
    workers: int = Field(default_factory=lambda: auto_count("auto"), ge=1, le=256)  # or "auto" (auto_count)
    _auto_workers = field_validator("workers", mode="before")(auto_count)
    ranker: str = "multimodal"
    step_seconds: int = Field(60, ge=1, le=3600)
    lookback_minutes: int = Field(60, ge=5, le=10080)
    after_minutes: int = Field(15, ge=1, le=1440)
    max_lag_minutes: int = Field(10, ge=0, le=120)
    min_correlation: float = Field(0.6, gt=0, le=1)
    blast_depth: int = Field(3, ge=1, le=10)
    # Rank only the anomalous service and what it calls (declared or observed calls), when those
    # are known (aiops.rca.analysis.focus_on); off for a topology known to miss calls.
    focus_on_calls: bool = True
    graph_refresh_seconds: float = Field(300.0, gt=0)
    poll_seconds: float = Field(0.5, gt=0)
    idle_poll_seconds: float = Field(5.0, gt=0)
    claim_timeout_seconds: float = Field(120.0, gt=0)
    max_attempts: int = Field(3, ge=1, le=100)
    max_series: int = Field(5000, ge=2)
    graph_series: int = Field(300, ge=2, le=100_000)
    max_spans: int = Field(200_000, ge=0)  # spans an analysis reads (OTLP), sampled by trace beyond
    max_log_records: int = Field(200_000, ge=0)  # log records an analysis reads, sampled likewise


class AlertSettings(Section):
    """The Alertmanager webhook on ``webhook_port``."""

    # Refuse (401) alerts that present no webhook key. None: on in production mode, off in development.
    require_webhook_key: bool | None = None
    # For alerts without a tenant_id label and no key (the reference's example payload):
    # like Mimir's anonymous tenant when auth is off. None or empty: such alerts get 422.
    default_tenant: str | None = Field("default", min_length=1, max_length=64)
    create_default_tenant: bool = True  # create default_tenant at start when missing
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    max_alerts: int = Field(1000, ge=1)  # per payload
    link_window_minutes: int = Field(30, ge=0, le=1440)  # watchdog anomalies this close are linked
    # A linked episode moves the RCA start earlier only if it was still anomalous this close to the alert.
    onset_gap_minutes: int = Field(10, ge=0, le=1440)
    severity_scores: dict[str, float] = Field(
        default_factory=lambda: {"critical": 1.0, "error": 0.95, "warning": 0.8, "info": 0.5})
    # A request whose head and body have not arrived within this gets 408 (slow-drip senders);
    # an idle keep-alive connection is closed after keep_alive_seconds.
    request_timeout_seconds: float = Field(30.0, gt=0)
    keep_alive_seconds: float = Field(30.0, gt=0)
    max_connections: int = Field(256, ge=1)  # open connections at once; more are answered 503

    @field_validator("default_tenant", mode="before")
    @classmethod
    def _empty_means_none(cls, value: Any) -> Any:
        # engine.yaml and the README say "empty: 422"; an empty YAML value or AIOPS_ALERTS__DEFAULT_TENANT=""
        # means no default tenant, not an invalid one.
        return None if isinstance(value, str) and not value.strip() else value


class IncidentSettings(Section):
    """The incident memory: resolutions, their embeddings, and how they are searched."""

    embed_timeout_seconds: float = Field(5.0, gt=0)  # a resolution waits this long for its embedding
    pending_scan_seconds: float = Field(2.0, gt=0)  # vectorizers look for unembedded rows this often
    similar_incidents: int = Field(3, ge=0, le=50)  # per RCA result
    min_similarity: float = Field(0.4, ge=-1, le=2)  # weaker matches are not suggested in RCA results
    same_service_bonus: float = Field(0.15, ge=0, le=1)  # added when the past incident was on the root cause


class LlmSettings(Section):
    """An OpenAI-compatible chat endpoint for RCA summaries; unset means disabled."""

    url: str | None = None
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(10.0, gt=0)


class AuthSettings(Section):
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    leeway_seconds: int = Field(30, ge=0, le=600)
    default_token_ttl_seconds: int = Field(3600, gt=0)
    jwks_cache_seconds: float = Field(300, gt=0)
    jwks_refresh_cooldown_seconds: float = Field(30, ge=0)
    # Longest accepted token lifetime (exp - iat); longer-lived tokens are refused.
    max_token_lifetime_seconds: int = Field(7 * 86400, gt=0)
    key_cache_seconds: float = Field(1.0, ge=0, le=60)
    tenant_cache_seconds: float = Field(1.0, ge=0, le=60)
    max_key_rate_limit_rps: float = Field(100_000, gt=0)


class PlanSettings(Section):
    """What a tenant on this plan may do; enforced per tenant across all API replicas."""

    requests_per_second: float = Field(gt=0)
    points_per_second: float = Field(gt=0)
    max_series: int = Field(gt=0)


DEFAULT_PLANS = {
    "free": PlanSettings(requests_per_second=50, points_per_second=50_000, max_series=10_000),
    "pro": PlanSettings(requests_per_second=500, points_per_second=1_000_000, max_series=200_000),
    "enterprise": PlanSettings(requests_per_second=5_000, points_per_second=10_000_000, max_series=5_000_000),
}


class RaySettings(Section):
    namespace: str = "aiops"
    dashboard: bool = True
    # The dashboard (and its Jobs API, which runs code) has no authentication: loopback unless
    # an operator deliberately names another interface.
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(8265, ge=0, le=65535)
    num_cpus: int | None = Field(None, ge=1)


class ServeSettings(Section):
    host: str = "127.0.0.1"
    api_replicas: int = Field(1, ge=1, le=64)
    ready_timeout_seconds: float = Field(120.0, gt=0)
    # A request (its body included) must complete within this, or Serve's proxy answers 408:
    # a client dripping its body byte by byte cannot hold a connection forever.
    request_timeout_seconds: float = Field(60.0, gt=0)
    # JSON bodies of the REST routes other than ingestion: larger ones get 413 before parsing.
    max_body_bytes: int = Field(1024 * 1024, gt=0)


class MetricsSettings(Section):
    """What ``GET /metrics`` (open to anyone who reaches the port) and the actors' Ray metrics show."""

    # Figures per tenant (tenant ids as label values) only when asked for; totals otherwise.
    per_tenant: bool = False
    max_tenants: int = Field(100, ge=1, le=10_000)  # per-tenant label values at most; the rest as "other"


class Settings(BaseSettings):
    """Everything the engine can be told. See ``configs/engine.yaml`` for each knob."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    mode: Literal["development", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"  # the engine's processes (the CLI prints text)
    data_dir: Path = Path("./data")
    clickhouse_dsn: str | None = None
    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    http_port: int = Field(8080, ge=0, le=65535)
    webhook_port: int = Field(9093, ge=0, le=65535)
    ray_address: str | None = None

    ingest: IngestSettings = IngestSettings()
    otlp: OtlpSettings = OtlpSettings()
    retention: RetentionSettings = RetentionSettings()
    storage: StorageSettings = StorageSettings()
    watchdog: WatchdogSettings = WatchdogSettings()
    vectorizer: VectorizerSettings = VectorizerSettings()
    rca: RcaSettings = RcaSettings()
    llm: LlmSettings = LlmSettings()
    alerts: AlertSettings = AlertSettings()
    incidents: IncidentSettings = IncidentSettings()
    incident_grouping: IncidentGroupingSettings = IncidentGroupingSettings()
    notifications: NotificationSettings = NotificationSettings()
    auth: AuthSettings = AuthSettings()
    plans: dict[str, PlanSettings] = Field(default_factory=lambda: dict(DEFAULT_PLANS), min_length=1)
    default_plan: str = "free"
    ray: RaySettings = RaySettings()
    serve: ServeSettings = ServeSettings()
    metrics: MetricsSettings = MetricsSettings()

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Actors run with other working directories: resolve once, here.
        return value.expanduser().resolve()

    @field_validator("clickhouse_dsn")
    @classmethod
    def _known_dsn_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlparse(value).scheme
        if scheme not in ("chdb", "http", "https"):
            raise ValueError(f"must start with chdb://, http:// or https://, not {scheme or value!r}")
        return value

    @field_validator("ray_address")
    @classmethod
    def _empty_means_local(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _default_ttl_within_the_maximum(self) -> Settings:
        if self.auth.default_token_ttl_seconds > self.auth.max_token_lifetime_seconds:
            raise ValueError("auth.default_token_ttl_seconds is longer than auth.max_token_lifetime_seconds")
        return self

    @model_validator(mode="after")
    def _default_plan_exists(self) -> Settings:
        if self.default_plan not in self.plans:
            raise ValueError(f"default_plan {self.default_plan!r} is not one of plans: {', '.join(self.plans)}")
        return self

    @property
    def webhook_key_required(self) -> bool:
        """Whether port 9093 refuses alerts without a webhook key (``alerts.require_webhook_key``)."""
        required = self.alerts.require_webhook_key
        return self.mode == "production" if required is None else required

    @property
    def dsn(self) -> str:
        """The ClickHouse DSN in effect: configured, or embedded chDB under the data dir."""
        return self.clickhouse_dsn or f"chdb://{self.data_dir / 'clickhouse'}"

    @property
    def embedded_storage(self) -> bool:
        """True when storage is chDB in-process, which only one process may own."""
        return self.dsn.startswith("chdb://")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then AIOPS_* variables, then the YAML file.
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=config_path()))


def config_path() -> Path:
    """The YAML file in effect: ``$AIOPS_CONFIG`` or the repository's ``configs/engine.yaml``."""
    configured = os.environ.get(CONFIG_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_CONFIG


def _env_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad key: dotted name, environment variable, what is wrong."""
    lines = []
    for item in error.errors():
        loc = tuple(part for part in item["loc"] if not isinstance(part, int))
        key = ".".join(str(part) for part in loc) or "<root>"
        if item["type"] == "extra_forbidden":
            message = "unknown setting"
        elif item["type"] == "value_error" and "error" in item.get("ctx", {}):
            message = str(item["ctx"]["error"])  # our validators' words, without pydantic's "Value error, "
        else:
            message = item["msg"]
        lines.append(f"  {key} ({_env_name(loc)}): {message}")
    return "invalid settings in " + str(config_path()) + " or the environment:\n" + "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings, raising :class:`SettingsError` with a readable message."""
    path = config_path()
    if os.environ.get(CONFIG_ENV) and not path.is_file():
        raise SettingsError(f"{CONFIG_ENV} points at {path}, which is not a file")
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
    except (OSError, ValueError, yaml.YAMLError) as error:  # unreadable or malformed YAML
        raise SettingsError(f"cannot read settings from {path}: {error}") from None
