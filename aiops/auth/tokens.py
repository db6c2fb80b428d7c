"""JWT issue and verification (pyjwt).

Tokens must carry ``sub``, ``tenant_id``, ``role``, ``exp`` and ``iat`` (CONTRACT.md, Identity), and
live no longer than ``auth.max_token_lifetime_seconds`` (``exp - iat``; an ``iat`` in the
future beyond the clock leeway is refused too), so a leaked token cannot stay useful for
years. Verification picks the
key by the token's algorithm family and never lets one family's key stand in for
another's: HS256 only with the shared secret; RS256 / ES256 only with the configured PEM
public key or the JWKS endpoint's keys (fetched, cached and refreshed on an unknown
``kid``, at most once per cooldown, by ``PyJWKClient``). ``alg: none`` is never accepted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from aiops.auth.roles import Role
from aiops.errors import Unauthorized
from aiops.settings import Settings

HMAC_ALGORITHMS = ("HS256",)
PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256")
REQUIRED_CLAIMS = ("exp", "iat", "sub", "tenant_id", "role")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """Who is calling, resolved once per request from a JWT or an API key."""

    tenant_id: str
    user_id: str
    role: Role
    via: str = "jwt"  # "jwt" or "api_key"
    scope: str | None = None  # an API key's scope
    key_id: str | None = None


def issue_token(
    secret: str,
    *,
    tenant_id: str,
    user_id: str,
    role: Role,
    ttl_seconds: int,
    issuer: str | None = None,
    audience: str | None = None,
    now: float | None = None,
) -> str:
    """An HS256 token for this identity (what ``aiops token`` prints)."""
    issued = int(now if now is not None else time.time())
    claims: dict = {
        "sub": user_id,
        "tenant_id": tenant_id,
        "role": Role(role).value,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def _load_public_key(value: str) -> str:
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text
    path = Path(text).expanduser()
    if path.is_file():
        return path.read_text()
    raise ValueError("jwt_public_key is neither a PEM key nor a readable file")


class TokenVerifier:
    """Checks a bearer token and returns the identity it proves."""

    def __init__(self, settings: Settings, secret: str | None) -> None:
        self._secret = secret
        self._public_key = _load_public_key(settings.jwt_public_key) if settings.jwt_public_key else None
        # The whole key set is cached (so a key the provider withdraws stops verifying when
        # the cache expires); an unknown kid refetches it at most once per cooldown.
        self._jwks = (
            jwt.PyJWKClient(
                settings.jwt_jwks_url,
                cache_keys=False,
                lifespan=settings.auth.jwks_cache_seconds,
                cooldown_duration=settings.auth.jwks_refresh_cooldown_seconds,
                timeout=5,
            )
            if settings.jwt_jwks_url
            else None
        )
        self._issuer = settings.auth.jwt_issuer
        self._audience = settings.auth.jwt_audience
        self._leeway = settings.auth.leeway_seconds
        self._max_lifetime = settings.auth.max_token_lifetime_seconds

    def _key_for(self, token: str, algorithm: str):
        if algorithm in HMAC_ALGORITHMS:
            if self._secret is None:
                raise Unauthorized("HS256 tokens are not accepted by this engine")
            return self._secret
        if algorithm in PUBLIC_KEY_ALGORITHMS:
            if self._public_key is not None:
                return self._public_key
            if self._jwks is not None:
                try:
                    return self._jwks.get_signing_key_from_jwt(token).key
                except jwt.PyJWKClientError as error:  # the provider's own words may name hosts: log them
                    log.warning("no JWKS signing key for a token: %s", error)
                    raise Unauthorized("no signing key of the identity provider matches this token") from None
        raise Unauthorized(f"token algorithm {algorithm!r} is not accepted")

    def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        algorithm = str(header.get("alg", ""))
        key = self._key_for(token, algorithm)
        options: jwt.types.Options = {"require": list(REQUIRED_CLAIMS)}
        if self._audience is None:
            options["verify_aud"] = False
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                options=options,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        self._check_lifetime(claims)
        try:
            role = Role(claims["role"])
        except ValueError:
            raise Unauthorized(f"unknown role {claims['role']!r}") from None
        tenant_id, user_id = claims["tenant_id"], claims["sub"]
        if not isinstance(tenant_id, str) or not tenant_id or not isinstance(user_id, str) or not user_id:
            raise Unauthorized("token claims tenant_id and sub must be non-empty strings")
        return Identity(tenant_id=tenant_id, user_id=user_id, role=role)

    def _check_lifetime(self, claims: dict) -> None:
        # PyJWT has checked that iat is not in the future (beyond the leeway) and exp not past.
        issued, expires = claims["iat"], claims["exp"]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (issued, expires))
        if not numbers:
            raise Unauthorized("token claims iat and exp must be numbers (seconds since the epoch)")
        if expires - issued > self._max_lifetime:
            raise Unauthorized(f"token lifetime (exp - iat) is over the {self._max_lifetime} s this engine accepts")
