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


def test_a_token_valid_for_a_hundred_years_is_refused(verifier: TokenVerifier) -> None:
    century = issue_token(SECRET, tenant_id="acme", user_id="a", role=Role.ADMIN, ttl_seconds=100 * 365 * 86400)
    with pytest.raises(Unauthorized, match="lifetime"):
        verifier.verify(century)


def test_the_maximum_lifetime_is_a_setting(tmp_path) -> None:
    strict = TokenVerifier(load_settings(data_dir=tmp_path, auth={"max_token_lifetime_seconds": 600,
                                                                  "default_token_ttl_seconds": 300}), SECRET)
    strict.verify(issue_token(SECRET, tenant_id="acme", user_id="a", role=Role.ADMIN, ttl_seconds=600))
    with pytest.raises(Unauthorized, match="600 s"):
        strict.verify(issue_token(SECRET, tenant_id="acme", user_id="a", role=Role.ADMIN, ttl_seconds=601))
    with pytest.raises(Exception, match="default_token_ttl_seconds"):
        load_settings(data_dir=tmp_path, auth={"max_token_lifetime_seconds": 600})  # default ttl 3600 > 600


def test_short_secrets_are_warned_about_in_development_too(tmp_path, caplog) -> None:
    from aiops.auth.secrets import resolve_jwt_secret

    with caplog.at_level("WARNING", logger="aiops.auth.secrets"):
        assert resolve_jwt_secret(load_settings(data_dir=tmp_path, jwt_secret="short")) == "short"
    assert "5 characters" in caplog.text and "at least 32" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="aiops.auth.secrets"):
        resolve_jwt_secret(load_settings(data_dir=tmp_path, jwt_secret="s" * 40))
    assert caplog.text == ""


@pytest.mark.reliability(
    fault="tokens with and without iat, iat in the future, any lifetime, string or bool times (Hypothesis)",
    promise="accepted only with numeric iat and exp, iat not ahead, not expired, lifetime within the maximum",
    kind="13 tokens",
)
def test_token_claims_are_checked_as_a_whole(verifier: TokenVerifier, record_property) -> None:
    from hypothesis import assume, given
    from hypothesis import strategies as st

    from tests.properties import PROPERTY

    lifetime = load_settings().auth.max_token_lifetime_seconds
    outcomes = {"accepted": 0, "refused": 0}
    now = int(time.time())

    @PROPERTY
    @given(iat=st.none() | st.integers(-10**6, 10**6).map(lambda d: now + d) | st.just("yesterday") | st.just(True),
           life=st.integers(-3600, 2 * lifetime) | st.sampled_from([lifetime, lifetime + 1, 100 * 365 * 86400]))
    def check(iat, life: int) -> None:
        claims = {"sub": "a", "tenant_id": "acme", "role": "viewer"}
        base = iat if isinstance(iat, int) and not isinstance(iat, bool) else now
        claims["exp"] = base + life
        if iat is not None:
            claims["iat"] = iat
        numeric = isinstance(iat, int) and not isinstance(iat, bool)
        # Clear of the leeway's edges, so the seconds this test takes cannot flip an outcome.
        assume(not numeric or abs(iat - (now + 30)) > 5)
        assume(abs(base + life - (now - 30)) > 5)
        good = numeric and iat <= now + 30 and base + life > now - 30 and life <= lifetime
        try:
            verifier.verify(jwt.encode(claims, SECRET, algorithm="HS256"))
        except Unauthorized:
            assert not good, claims
            outcomes["refused"] += 1
            return
        assert good, claims
        outcomes["accepted"] += 1

    check()
    record_property("measured", f"{sum(outcomes.values())} tokens: {outcomes['accepted']} valid accepted, "
                                f"{outcomes['refused']} refused (no iat, iat ahead, expired, over "
                                f"{lifetime} s, non-numeric)")
