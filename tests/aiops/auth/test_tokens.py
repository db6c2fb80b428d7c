"""JWT verification: what is accepted and every way a token is refused."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from aiops.auth.roles import Permission, Role
from aiops.auth.tokens import TokenVerifier, issue_token
from aiops.errors import Unauthorized
from aiops.settings import load_settings

SECRET = "s" * 48


@pytest.fixture
def verifier(tmp_path) -> TokenVerifier:
    return TokenVerifier(load_settings(data_dir=tmp_path), SECRET)


def make(**overrides) -> str:
    return issue_token(SECRET, tenant_id="acme", user_id="alice@acme.com", role=Role.OPERATOR, ttl_seconds=60,
                       **overrides)


def test_valid_token_gives_identity(verifier: TokenVerifier) -> None:
    identity = verifier.verify(make())
    assert (identity.tenant_id, identity.user_id, identity.role) == ("acme", "alice@acme.com", Role.OPERATOR)
    assert identity.role.allows(Permission.WRITE)
    assert not identity.role.allows(Permission.MANAGE_KEYS)


def test_expired_token_is_refused(verifier: TokenVerifier) -> None:
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(make(now=time.time() - 3600))


def test_wrong_secret_is_refused(verifier: TokenVerifier) -> None:
    forged = issue_token("t" * 48, tenant_id="acme", user_id="a", role=Role.SUPER_ADMIN, ttl_seconds=60)
    with pytest.raises(Unauthorized, match="invalid token"):
        verifier.verify(forged)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(verifier: TokenVerifier) -> None:
    claims = {"sub": "a", "tenant_id": "acme", "role": "super_admin", "exp": int(time.time()) + 60}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(Unauthorized, match="not accepted"):
        verifier.verify(unsigned)


def test_tampered_claims_are_refused(verifier: TokenVerifier) -> None:
    header, _, signature = make().split(".")
    claims = {"sub": "alice@acme.com", "tenant_id": "acme", "role": "super_admin", "exp": int(time.time()) + 60}
    with pytest.raises(Unauthorized):
        verifier.verify(f"{header}.{_b64(claims)}.{signature}")


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "tenant_id", "role"])
def test_required_claims(verifier: TokenVerifier, missing: str) -> None:
    claims = {"sub": "a", "tenant_id": "acme", "role": "viewer", "iat": int(time.time()), "exp": int(time.time()) + 60}
    del claims[missing]
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_unknown_role_is_refused(verifier: TokenVerifier) -> None:
    claims = {"sub": "a", "tenant_id": "acme", "role": "root", "iat": int(time.time()), "exp": int(time.time()) + 60}
    with pytest.raises(Unauthorized, match="unknown role"):
        verifier.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "isage_" + "x" * 10])
def test_garbage_is_refused(verifier: TokenVerifier, garbage: str) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify(garbage)


def test_role_levels_match_the_contract() -> None:
    assert [role.level for role in Role] == [1, 2, 3, 4]
    assert Role.ADMIN.permissions == ("read", "write", "manage_keys", "manage_users")
    assert Role.SUPER_ADMIN.allows(Permission.MANAGE_TENANTS)
