"""Notification channels: what an admin creates (one model per type) and what is shown back.

Create bodies are ``{"name": ..., "type": "alertmanager" | "webhook" | "slack", "url": ...}``
plus type-specific fields; unknown fields are refused. URLs and secrets are held as
``SecretStr`` (so neither a ``repr`` nor a log line shows them) and are never shown again
after creation: :func:`public_view` gives a prefix of each. Whether the URL may be sent to
at all is a separate check against the operator's allow-list
(:func:`aiops.notify.targets.check_target`), made at creation and at every delivery.

>>> channel = parse_channel({"name": "ops", "type": "slack",
...                          "url": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"})
>>> public_view("ch-1", channel).url
'https://hooks.slack.com/service…'
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, field_validator

from aiops.incident.model import Severity

SeverityName = Literal["info", "warning", "error", "critical"]
ChannelType = Literal["alertmanager", "webhook", "slack"]
MAX_URL_CHARS = 2048
SHOWN_PATH_CHARS = 8  # of a URL path that may hold a token, this much is shown
SHOWN_SECRET_CHARS = 4
MAX_TOKEN_CHARS = 4096
BEARER_TOKEN = re.compile(rf"[A-Za-z0-9\-._~+/]{{1,{MAX_TOKEN_CHARS}}}=*")


def _check_url(url: SecretStr, *, https_only: bool = False) -> SecretStr:
    text = url.get_secret_value()
    if len(text) > MAX_URL_CHARS:
        raise ValueError(f"a URL of at most {MAX_URL_CHARS} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ValueError("a URL without spaces or control characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:  # its text quotes the URL, credentials included: not repeated
        raise ValueError("not a URL (its host or port cannot be read)") from None
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"a URL starting with {' or '.join(s + '://' for s in schemes)}")
    if not parts.hostname:
        raise ValueError("a URL with a host")
    if parts.fragment:
        raise ValueError("a URL without a #fragment")
    return url


def _loopback(url: str) -> bool:
    """Whether ``url`` names a loopback host literally (``localhost``, ``127.0.0.0/8``, ``::1``).

    >>> _loopback("http://127.0.0.1:8080/hook"), _loopback("http://hooks.slack.com/x")
    (True, False)
    """
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    url: SecretStr
    # Changes of incidents below this severity are not sent to this channel.
    min_severity: SeverityName = "info"

    @property
    def min_level(self) -> Severity:
        return Severity.parse(self.min_severity)

    def url_text(self) -> str:
        """The URL itself, for the sender (never for showing)."""
        return self.url.get_secret_value()


class AlertmanagerChannel(_Channel):
    """An Alertmanager: incidents are posted as alerts to its ``/api/v2/alerts``.

    ``url`` is its base URL (``http://alertmanager:9093``) or the alerts URL itself."""

    type: Literal["alertmanager"]
    bearer_token: SecretStr | None = Field(None, description="sent as Authorization: Bearer (a proxy in front)")
    resend_seconds: float | None = Field(None, ge=5, le=3600, description="overrides alertmanager_resend_seconds")

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return _check_url(value)

    @field_validator("bearer_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        # It goes into a header: a newline would split it, anything outside ASCII cannot be sent, and
        # the HTTP library's error would then repeat the token in the delivery's error (RFC 6750 b64token).
        if value is not None and not BEARER_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError(f"a bearer token of 1 to {MAX_TOKEN_CHARS} characters of A-Z a-z 0-9 - . _ ~ + / "
                             "(then = padding)")
        return value

    @property
    def alerts_url(self) -> str:
        base = self.url_text().split("?", 1)[0].rstrip("/")
        return base if base.endswith("/api/v2/alerts") else base + "/api/v2/alerts"


class WebhookChannel(_Channel):
    """Any HTTPS or HTTP endpoint: JSON, signed with HMAC-SHA256 under ``secret`` (:mod:`aiops.notify.webhook`)."""

    type: Literal["webhook"]
    secret: SecretStr = Field(description="at least 16 characters; receivers verify X-AIOps-Signature with it")

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return _check_url(value)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if not 16 <= len(value.get_secret_value()) <= 256:
            raise ValueError("a secret of 16 to 256 characters")
        return value


class SlackChannel(_Channel):
    """A Slack incoming webhook (``https://hooks.slack.com/services/...``): the URL is the credential.

    HTTPS only, except to a loopback host (a relay on the engine's own machine, or a test's
    receiver): the token never crosses a network in the clear. Loopback itself is refused by
    the allow-list unless it allows loopback (by default in development mode only)."""

    type: Literal["slack"]

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return _check_url(value, https_only=not _loopback(value.get_secret_value()))


ChannelConfig = Annotated[AlertmanagerChannel | WebhookChannel | SlackChannel, Field(discriminator="type")]
CHANNEL_CONFIG: TypeAdapter[AlertmanagerChannel | WebhookChannel | SlackChannel] = TypeAdapter(ChannelConfig)


def parse_channel(data: object) -> AlertmanagerChannel | WebhookChannel | SlackChannel:
    """A channel from a create body; raises ``pydantic.ValidationError`` naming each bad field."""
    return CHANNEL_CONFIG.validate_python(data)


def channel_to_storage(channel: AlertmanagerChannel | WebhookChannel | SlackChannel) -> dict:
    """Everything, secrets included, for the channel's stored row (never for an answer)."""
    data = channel.model_dump(mode="python")
    return {key: value.get_secret_value() if isinstance(value, SecretStr) else value for key, value in data.items()}


class ChannelPublic(BaseModel):
    """A channel as shown after creation: URL and secret as prefixes only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel_id: str
    name: str
    # One of ChannelType; another value only on a stored row this version does not know (see problem).
    type: ChannelType | str
    url: str
    min_severity: SeverityName | None  # None only with a problem
    secret: str | None = None  # webhook: a prefix of the secret
    bearer_token: str | None = None  # alertmanager: a prefix, when one is set
    resend_seconds: float | None = None
    # Set when the stored channel no longer passes the checks of this version: nothing is sent
    # to it; delete it and create it again.
    problem: str | None = None


def describe_problems(error: ValidationError) -> str:
    """``"<field>: <what is wrong>; ..."`` for a channel body, without pydantic's union path or the input."""
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"] if not str(p).startswith(("function-", "tagged-union")))
        parts.append(f"{where or 'body'}: {problem['msg']}")
    return "; ".join(parts)


def stored_view(channel_id: str, name: str, kind: str, config: str) -> ChannelPublic:
    """What the API shows of a stored row: :func:`public_view`, or, for a row this version
    refuses (``config`` is its stored JSON), its id, name and type with the ``problem`` and
    nothing else (no URL, no secret, not even a prefix)."""
    try:
        return public_view(channel_id, parse_channel(orjson.loads(config)))
    except ValidationError as error:
        reason = describe_problems(error)
    except ValueError:  # orjson's decode error
        reason = "not valid JSON"
    return ChannelPublic(channel_id=channel_id, name=name, type=kind, url="", min_severity=None,
                         problem=f"stored channel no longer valid: {reason}")


def mask_secret(value: str, shown: int = SHOWN_SECRET_CHARS) -> str:
    """A prefix and an ellipsis; nothing of a secret too short to spare characters.

    >>> mask_secret("s3cr3t-s3cr3t-s3cr3t"), mask_secret("short")
    ('s3cr…', '…')
    """
    return (value[:shown] if len(value) >= 3 * shown else "") + "…"


def mask_url(url: str, *, keep_path: bool = False, shown: int = SHOWN_PATH_CHARS) -> str:
    """The URL without credentials or query; its path cut to a prefix unless ``keep_path``.

    >>> mask_url("https://user:pw@example.com:8443/hooks/abcdef123456?token=x")
    'https://example.com:8443/hooks/a…'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    path = parts.path if keep_path or len(parts.path) <= shown else parts.path[:shown] + "…"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def public_view(channel_id: str, channel: AlertmanagerChannel | WebhookChannel | SlackChannel) -> ChannelPublic:
    """What the API shows of a stored channel."""
    common: dict[str, Any] = {"channel_id": channel_id, "name": channel.name, "type": channel.type,
                              "min_severity": channel.min_severity}
    if isinstance(channel, AlertmanagerChannel):
        token = channel.bearer_token
        return ChannelPublic(**common, url=mask_url(channel.url_text(), keep_path=True),
                             bearer_token=mask_secret(token.get_secret_value()) if token else None,
                             resend_seconds=channel.resend_seconds)
    if isinstance(channel, WebhookChannel):
        return ChannelPublic(**common, url=mask_url(channel.url_text()),
                             secret=mask_secret(channel.secret.get_secret_value()))
    return ChannelPublic(**common, url=mask_url(channel.url_text()))
