"""Alertmanager alerts -> anomalies (``source: alertmanager``), stored, linked and RCA-requested.

Validation is whole-payload: every alert must map to an existing tenant and a service
before anything is written, so a refused payload changes nothing. A payload costs one
storage call whatever its size (``Store.record_alert_notices``). An alert is identified
as Alertmanager identifies it, by fingerprint (its label set's hash; computed the same
way when a sender leaves it out) and ``startsAt``; its anomaly id is derived from those,
so Alertmanager's retries and repeat notifications land on the same anomaly, and a later
``resolved`` notification resolves it. The tenant is the webhook key's (when a
``webhook`` key was presented), else the ``tenant_id`` label, else ``alerts.default_tenant``.
Without a key, a tenant that has webhook keys refuses the payload (401), and so does any
notice about an alert first sent with a key: a forged ``resolved`` needs the credentials
the firing alert came with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aiops.clock import SYSTEM_CLOCK, Clock
from aiops.errors import Unauthorized, Unprocessable
from aiops.schemas.alerts import AlertIn, AlertmanagerPayload, WebhookAnswer
from aiops.settings import Settings
from aiops.storage.records import AlertRecord, AnomalyRecord

if TYPE_CHECKING:
    from aiops.storage.async_store import AsyncStore

SERVICE_LABELS = ("service_id", "service", "job", "app")
NEVER = datetime(1, 1, 1, tzinfo=UTC)  # Alertmanager's "no end yet"


def fingerprint(labels: dict[str, str]) -> str:
    text = "\xff".join(f"{k}\xfe{v}" for k, v in sorted(labels.items()))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def alert_anomaly_id(tenant_id: str, fingerprint_: str, starts_at: datetime) -> str:
    key = f"{tenant_id}\x00{fingerprint_}\x00{starts_at.astimezone(UTC).isoformat()}"
    return "anom-" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Mapped:
    tenant_id: str
    service_id: str
    labels: dict[str, str]
    alert: AlertIn
    fingerprint: str
    anomaly_id: str


class AlertIntake:
    def __init__(self, settings: Settings, store: AsyncStore, queued=None, clock: Clock = SYSTEM_CLOCK) -> None:
        self._settings = settings
        self._store = store  # a StoreGateway's aio view
        self._queued = queued  # (anomaly ids) -> None: RCAs were requested for these
        self._clock = clock  # "now": when notices are received, and the end of the link window

    def _map(self, payload: AlertmanagerPayload, key_tenant: str | None) -> list[Mapped]:
        if len(payload.alerts) > self._settings.alerts.max_alerts:
            raise Unprocessable(f"{len(payload.alerts)} alerts in one payload; at most "
                                f"{self._settings.alerts.max_alerts}")
        mapped = []
        for index, alert in enumerate(payload.alerts):
            labels = {**payload.commonLabels, **alert.labels}
            labelled = labels.get("tenant_id")
            if key_tenant is not None and labelled not in (None, key_tenant):
                raise Unprocessable(f"alerts[{index}]: tenant_id label {labelled!r} differs from the webhook key's "
                                    f"tenant {key_tenant!r}")
            tenant = key_tenant or labelled or self._settings.alerts.default_tenant
            if not tenant:
                raise Unprocessable(f"alerts[{index}]: no tenant_id label, and no default tenant is configured "
                                    "(alerts.default_tenant)")
            service = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), None)
            if service is None:
                raise Unprocessable(f"alerts[{index}]: no service label (one of {', '.join(SERVICE_LABELS)})")
            fp = alert.fingerprint or fingerprint(alert.labels)
            mapped.append(Mapped(tenant, service, labels, alert, fp, alert_anomaly_id(tenant, fp, alert.startsAt)))
        return mapped

    async def receive(self, payload: AlertmanagerPayload, key_tenant: str | None = None,
                      key_id: str = "") -> WebhookAnswer:
        """Store every alert and its anomaly, link and request RCAs; answer once all of it is durable.

        ``key_id`` is the webhook key presented (its tenant ``key_tenant``), "" for none."""
        mapped = self._map(payload, key_tenant)
        now = self._clock.now()
        notices, fresh = [], []
        for m in mapped:
            a = m.alert
            ends_at = a.endsAt if a.endsAt is not None and a.endsAt > NEVER + timedelta(days=1) else None
            alertname = m.labels.get("alertname", "alert")
            notices.append(AlertRecord(m.tenant_id, m.fingerprint, a.startsAt, ends_at, a.status, alertname,
                                       m.service_id, m.labels, a.annotations, a.generatorURL, m.anomaly_id, [], now,
                                       key_id))
            severity = m.labels.get("severity", "").lower()
            score = self._settings.alerts.severity_scores.get(severity, 0.9)
            fresh.append(AnomalyRecord(m.tenant_id, m.anomaly_id, m.service_id, alertname, 0, m.labels,
                                       "alertmanager", "alertmanager", score, 0.0, a.startsAt, a.startsAt,
                                       rca_triggered=a.status == "firing"))
        window = timedelta(minutes=self._settings.alerts.link_window_minutes)
        outcome = await self._store.record_alert_notices(notices, fresh, window, now)
        if outcome.refused:
            raise Unauthorized(outcome.refused) if outcome.needs_key else Unprocessable(outcome.refused)
        if outcome.queued and self._queued is not None:
            self._queued(outcome.queued)
        first_firing = next((m.anomaly_id for m in mapped if m.alert.status == "firing"), None)
        return WebhookAnswer(rca_triggered=first_firing is not None,
                             anomaly_id=first_firing or (mapped[0].anomaly_id if mapped else None))
