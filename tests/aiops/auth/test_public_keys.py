"""RS256 / ES256 with a PEM key or an OIDC JWKS endpoint, and the algorithm-confusion attack."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from aiops.auth.tokens import TokenVerifier
from aiops.errors import Unauthorized
from aiops.settings import load_settings


def claims(**extra) -> dict:
    now = int(time.time())
    return {"sub": "alice", "tenant_id": "acme", "role": "admin", "iat": now, "exp": now + 300, **extra}


def public_pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rs256_with_pem_public_key(tmp_path: Path, rsa_key) -> None:
    verifier = TokenVerifier(load_settings(data_dir=tmp_path, jwt_public_key=public_pem(rsa_key)), None)
    assert verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256")).tenant_id == "acme"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode(claims(), other, algorithm="RS256"))


def test_public_key_from_a_file(tmp_path: Path, rsa_key) -> None:
    pem_file = tmp_path / "idp.pem"
    pem_file.write_text(public_pem(rsa_key))
    verifier = TokenVerifier(load_settings(data_dir=tmp_path, jwt_public_key=str(pem_file)), None)
    assert verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256")).user_id == "alice"


def test_es256_with_pem_public_key(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    verifier = TokenVerifier(load_settings(data_dir=tmp_path, jwt_public_key=public_pem(key)), None)
    assert verifier.verify(jwt.encode(claims(), key, algorithm="ES256")).role.value == "admin"


def test_hs256_signed_with_the_public_key_is_refused(tmp_path: Path, rsa_key) -> None:
    """Algorithm confusion: the attacker knows the public key and signs HS256 with it."""
    import hashlib
    import hmac
    from base64 import urlsafe_b64encode

    pem = public_pem(rsa_key)

    def b64(data: bytes) -> str:
        return urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(
        json.dumps(claims(role="super_admin")).encode())
    signature = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + b64(signature)
    # Public key only: HS256 is not accepted at all.
    only_pem = TokenVerifier(load_settings(data_dir=tmp_path, jwt_public_key=pem), None)
    with pytest.raises(Unauthorized, match="HS256 tokens are not accepted"):
        only_pem.verify(forged)
    # Both configured: HS256 checks against the shared secret, never the public key.
    both = TokenVerifier(load_settings(data_dir=tmp_path, jwt_public_key=pem), "shared-" + "s" * 40)
    with pytest.raises(Unauthorized, match="invalid token"):
        both.verify(forged)


def test_issuer_and_audience_when_configured(tmp_path: Path) -> None:
    secret = "k" * 40
    settings = load_settings(data_dir=tmp_path, auth={"jwt_issuer": "https://idp.example", "jwt_audience": "aiops"})
    verifier = TokenVerifier(settings, secret)
    good = jwt.encode(claims(iss="https://idp.example", aud="aiops"), secret, algorithm="HS256")
    assert verifier.verify(good).tenant_id == "acme"
    for bad in (claims(iss="https://evil.example", aud="aiops"), claims(iss="https://idp.example", aud="other"),
                claims()):
        with pytest.raises(Unauthorized):
            verifier.verify(jwt.encode(bad, secret, algorithm="HS256"))


def test_clock_leeway(tmp_path: Path) -> None:
    secret = "k" * 40
    verifier = TokenVerifier(load_settings(data_dir=tmp_path, auth={"leeway_seconds": 30}), secret)
    just_expired = jwt.encode(claims(exp=int(time.time()) - 10), secret, algorithm="HS256")
    assert verifier.verify(just_expired).user_id == "alice"
    long_expired = jwt.encode(claims(exp=int(time.time()) - 120), secret, algorithm="HS256")
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(long_expired)


class Jwks:
    """A real HTTP server publishing a JWKS document, as an OIDC provider does."""

    def __init__(self) -> None:
        self.keys: list[dict] = []
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                owner.fetches += 1
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, kid: str, private_key) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
        self.keys = [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    yield server
    server.server.shutdown()


def test_jwks_with_caching_and_key_rotation(tmp_path: Path, jwks: Jwks, rsa_key) -> None:
    jwks.publish("key-1", rsa_key)
    settings = load_settings(data_dir=tmp_path, jwt_jwks_url=jwks.url, auth={"jwks_refresh_cooldown_seconds": 0})
    verifier = TokenVerifier(settings, None)
    first = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "key-1"})
    assert verifier.verify(first).tenant_id == "acme"
    assert verifier.verify(first).tenant_id == "acme"
    assert jwks.fetches == 1  # cached

    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.publish("key-2", rotated)
    second = jwt.encode(claims(), rotated, algorithm="RS256", headers={"kid": "key-2"})
    assert verifier.verify(second).tenant_id == "acme"  # unknown kid: the set is fetched again
    assert jwks.fetches == 2

    with pytest.raises(Unauthorized):  # a key the provider withdrew, and an unknown one
        verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "key-1"}))
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "key-9"}))
