"""``aiops token``: print a JWT for an identity, signed with the engine's key."""

from __future__ import annotations

import re

import typer

from aiops.auth.roles import Role
from aiops.auth.secrets import resolve_jwt_secret
from aiops.auth.tokens import issue_token
from aiops.cli.common import fail, settings_or_exit
from aiops.settings import SettingsError

_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``1h``, ``7d`` -> seconds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) <= 0:
        raise typer.BadParameter("use a positive duration such as 900, 15m, 1h or 7d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def token(
    tenant: str = typer.Option(..., "--tenant", help="tenant_id claim"),
    user: str = typer.Option(..., "--user", help="sub claim (user id)"),
    role: Role = typer.Option(..., "--role", help="viewer, operator, admin or super_admin"),
    ttl: str | None = typer.Option(
        None, "--ttl", help="lifetime: 900, 15m, 1h, 7d (default: auth.default_token_ttl_seconds)"
    ),
) -> None:
    """Print a JWT for that identity, signed with the configured key."""
    settings = settings_or_exit()
    try:
        secret = resolve_jwt_secret(settings)
    except SettingsError as error:
        raise fail(str(error), 2) from None
    if secret is None:
        raise fail("tokens can only be issued with a shared secret (jwt_secret); this engine verifies "
                   "public-key tokens from your identity provider", 2)
    lifetime = parse_ttl(ttl) if ttl else settings.auth.default_token_ttl_seconds
    if lifetime > settings.auth.max_token_lifetime_seconds:
        raise fail(f"--ttl is longer than auth.max_token_lifetime_seconds "
                   f"({settings.auth.max_token_lifetime_seconds} s); the engine would refuse the token", 2)
    typer.echo(
        issue_token(
            secret,
            tenant_id=tenant,
            user_id=user,
            role=role,
            ttl_seconds=lifetime,
            issuer=settings.auth.jwt_issuer,
            audience=settings.auth.jwt_audience,
        )
    )
