"""How incident notifications leave the engine: the ``notifications`` block of ``configs/engine.yaml``."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aiops.incident.model import ChangeKind

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class RetrySettings(BaseModel):
    """Delivery retries: exponential backoff with jitter, bounded in attempts and age."""

    model_config = _FROZEN

    base_seconds: float = Field(2.0, gt=0, le=3600)  # the first retry waits up to this
    factor: float = Field(2.0, ge=1, le=10)  # each later retry waits up to this many times longer
    max_delay_seconds: float = Field(600.0, gt=0, le=86_400)  # no wait is longer
    max_attempts: int = Field(20, ge=1, le=1000)  # attempts in all, the first included
    max_age_seconds: float = Field(86_400.0, gt=0, le=30 * 86_400)  # no attempt starts later than this after the first


class OutboundSettings(BaseModel):
    """Where notifications may go: the operator's allow-list.

    Public (globally routable) addresses are allowed when ``allow_public``; otherwise only
    hosts named in ``allowed_hosts``. Private, link-local, shared, reserved and cloud
    metadata addresses are refused unless their network is in ``allowed_networks``;
    loopback is also allowed when ``allow_loopback`` (None: in development mode only).
    """

    model_config = _FROZEN

    allow_public: bool = True
    allowed_hosts: tuple[str, ...] = ()  # exact names or "*.example.com"; matters when allow_public is false
    allowed_networks: tuple[str, ...] = ()  # CIDRs, e.g. "10.20.0.0/16", "fd12:3456::/48"
    allow_loopback: bool | None = None
    allowed_schemes: tuple[Literal["http", "https"], ...] = ("http", "https")

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as error:
                raise ValueError(f"{cidr!r} is not a network in CIDR form: {error}") from None
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for host in value:
            bare = host.removeprefix("*.")
            if not bare or "*" in bare or "/" in bare or ":" in bare:
                raise ValueError(f"{host!r} is not a host name (or '*.' and a domain)")
        return tuple(host.lower().rstrip(".") for host in value)


class NotificationSettings(BaseModel):
    """Incident notifications: which changes are sent, how, where to, and how they are retried."""

    model_config = _FROZEN

    enabled: bool = True
    # The state changes channels are told about (acknowledged: also when listed).
    notify_on: tuple[ChangeKind, ...] = (ChangeKind.OPENED, ChangeKind.ROOT_CAUSE_KNOWN,
                                         ChangeKind.ROOT_CAUSE_CHANGED, ChangeKind.ESCALATED, ChangeKind.RESOLVED)
    # The value of the aiops_sender label on alerts the engine posts (the loop guard).
    sender: str = Field("aiops-engine", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    # Where people open an incident (links in payloads): e.g. "https://aiops.example.com"; none: no links.
    public_url: str | None = None
    max_channels_per_tenant: int = Field(20, ge=1, le=1000)
    request_timeout_seconds: float = Field(10.0, gt=0, le=300)
    # Alertmanager: open incidents are re-posted this often, each valid for validity_factor
    # times as long (Prometheus's own rule: 4 x its resend delay), so Alertmanager resolves
    # an incident the engine stopped sending only after several missed re-posts.
    alertmanager_resend_seconds: float = Field(60.0, ge=5, le=3600)
    alertmanager_validity_factor: float = Field(4.0, ge=2, le=20)
    # Signed webhooks: receivers should refuse signatures older (or newer) than this.
    signature_tolerance_seconds: int = Field(300, ge=1, le=86_400)
    max_members_in_payload: int = Field(50, ge=0, le=1000)  # the webhook lists at most this many members
    retry: RetrySettings = RetrySettings()
    outbound: OutboundSettings = OutboundSettings()

    @model_validator(mode="after")
    def _public_url(self) -> NotificationSettings:
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return self
