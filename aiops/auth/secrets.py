"""The JWT signing secret when none is configured: generated once into the data dir.

The engine and ``aiops token`` read the same file, so tokens printed by the CLI verify in
the engine. Production mode refuses generated and short secrets; development warns about short ones.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from aiops.settings import Settings, SettingsError

log = logging.getLogger(__name__)

SECRET_FILE = "jwt-secret"
MIN_PRODUCTION_SECRET_CHARS = 32


def secret_path(settings: Settings) -> Path:
    return settings.data_dir / SECRET_FILE


def resolve_jwt_secret(settings: Settings, *, create: bool = True) -> str | None:
    """The HS256 secret in effect: configured, else the data dir's file (made if missing).

    Returns None when keys are configured instead (public key or JWKS) and no secret is.
    """
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
        if len(secret) < MIN_PRODUCTION_SECRET_CHARS:
            if settings.mode == "production":
                raise SettingsError(
                    f"jwt_secret (AIOPS_JWT_SECRET): production mode needs at least "
                    f"{MIN_PRODUCTION_SECRET_CHARS} characters"
                )
            # Development starts anyway, but a short HS256 secret can be brute-forced offline
            # from any one token: say so where the operator looks.
            log.warning("jwt_secret (AIOPS_JWT_SECRET) has %d characters; use at least %d (production mode "
                        "refuses shorter ones)", len(secret), MIN_PRODUCTION_SECRET_CHARS)
        return secret
    if settings.jwt_public_key or settings.jwt_jwks_url:
        return None
    if settings.mode == "production":
        raise SettingsError(
            "jwt_secret (AIOPS_JWT_SECRET): production mode refuses a generated secret; "
            "configure jwt_secret, jwt_public_key or jwt_jwks_url"
        )
    path = secret_path(settings)
    if path.is_file():
        return path.read_text().strip()
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # Write aside, then link into place: linking fails if another process won the race,
    # and nobody ever reads a half-written file.
    scratch = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    try:
        os.link(scratch, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        scratch.unlink(missing_ok=True)
    log.warning("no JWT secret configured: generated one into %s (mode 0600)", path)
    return value


def prepare_settings(settings: Settings) -> Settings:
    """Settings as handed to the cluster: data dir made, JWT secret resolved into them.

    Actors may run on other machines, so nothing they need is read from local files.
    (Here, not in ``aiops.engine``, so the API's app can call it without importing the
    code that starts the engine.)
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = resolve_jwt_secret(settings)
    if secret is not None and settings.jwt_secret is None:
        settings = settings.model_copy(update={"jwt_secret": SecretStr(secret)})
    return settings
