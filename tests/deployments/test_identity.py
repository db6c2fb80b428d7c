"""Tenants, RBAC and API keys as the reference specifies, over real HTTP."""

from __future__ import annotations

import pytest

from aiops.auth.roles import Role
from tests.conftest import RunningEngine, file_contents, wait_for

pytestmark = pytest.mark.engine


def super_admin(engine: RunningEngine) -> dict[str, str]:
    return engine.auth(tenant="root", role=Role.SUPER_ADMIN)


def test_tenant_create_and_list(engine: RunningEngine) -> None:
    body = {"tenant_id": "initech", "name": "Initech", "plan": "pro", "contact_email": "ops@initech.example"}
    created = engine.http.post("/api/v1/tenants", json=body, headers=super_admin(engine))
    assert created.status_code == 201
    assert set(created.json()) == {"tenant_id", "created_at"}
    assert created.json()["tenant_id"] == "initech"
    assert created.json()["created_at"].endswith("Z")

    listed = engine.http.get("/api/v1/tenants", headers=super_admin(engine)).json()["tenants"]
    initech = next(t for t in listed if t["tenant_id"] == "initech")
    assert set(initech) == {"tenant_id", "name", "plan", "created_at", "events_this_month"}
    assert (initech["name"], initech["plan"], initech["events_this_month"]) == ("Initech", "pro", 0)

    duplicate = engine.http.post("/api/v1/tenants", json=body, headers=super_admin(engine))
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("body, field", [
    ({"tenant_id": "Acme Corp", "name": "x"}, "tenant_id"),
    ({"tenant_id": "-acme", "name": "x"}, "tenant_id"),
    ({"tenant_id": "a" * 64, "name": "x"}, "tenant_id"),
    ({"tenant_id": "ok-id", "name": ""}, "name"),
    ({"tenant_id": "ok-id", "name": "x", "plan": "platinum"}, "plan"),
    ({"tenant_id": "ok-id", "name": "x", "contact_email": "not-an-email"}, "contact_email"),
    ({"tenant_id": "ok-id", "name": "x", "surprise": 1}, "surprise"),
])
def test_bad_tenants_are_422_and_not_stored(engine: RunningEngine, body: dict, field: str) -> None:
    response = engine.http.post("/api/v1/tenants", json=body, headers=super_admin(engine))
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["message"]
    listed = engine.http.get("/api/v1/tenants", headers=super_admin(engine)).json()["tenants"]
    assert body["tenant_id"] not in {t["tenant_id"] for t in listed}


def test_malformed_json_is_a_clear_4xx(engine: RunningEngine) -> None:
    response = engine.http.post("/api/v1/tenants", content=b"{not json", headers={
        **super_admin(engine), "Content-Type": "application/json"})
    # Malformed JSON is a 400 on every route (it was a 422 from FastAPI here, 400 on ingestion and 9093).
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request" and "JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize("role, level, permissions", [
    (Role.VIEWER, 1, ["read"]),
    (Role.OPERATOR, 2, ["read", "write"]),
    (Role.ADMIN, 3, ["read", "write", "manage_keys", "manage_users"]),
    (Role.SUPER_ADMIN, 4, ["read", "write", "manage_keys", "manage_users", "manage_tenants"]),
])
def test_permissions_as_the_reference(engine: RunningEngine, role: Role, level: int, permissions: list) -> None:
    response = engine.http.get("/api/v1/rbac/permissions", headers=engine.auth(user="alice@acme.com", role=role))
    assert response.status_code == 200
    assert response.json() == {"tenant_id": "acme", "user_id": "alice@acme.com", "role": role.value,
                               "level": level, "permissions": permissions}


def test_api_key_lifecycle(engine: RunningEngine) -> None:
    admin = engine.auth(role=Role.ADMIN)
    created = engine.http.post("/api/v1/apikeys", headers=admin, json={
        "name": "Production Ingestion", "scope": "ingestion", "rate_limit_rps": 1000,
        "expires_at": "2099-01-01T00:00:00Z"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"key_id", "api_key", "scope", "created_at"}
    assert body["key_id"].startswith("isage_key_") and body["scope"] == "ingestion"
    assert body["api_key"].startswith("isage_") and len(body["api_key"]) >= 6 + 43  # 32 random bytes

    listed = engine.http.get("/api/v1/apikeys", headers=admin)
    assert body["api_key"] not in listed.text  # prefix only, never the key
    mine = next(k for k in listed.json()["api_keys"] if k["key_id"] == body["key_id"])
    assert mine["prefix"] == body["api_key"][:10]
    assert (mine["name"], mine["scope"], mine["rate_limit_rps"]) == ("Production Ingestion", "ingestion", 1000)
    assert mine["expires_at"] == "2099-01-01T00:00:00Z"

    other = engine.http.get("/api/v1/apikeys", headers=engine.auth(tenant="globex", role=Role.ADMIN))
    assert body["key_id"] not in other.text

    assert engine.http.delete(f"/api/v1/apikeys/{body['key_id']}", headers=admin).status_code == 204
    listed = engine.http.get("/api/v1/apikeys", headers=admin).json()["api_keys"]
    assert body["key_id"] not in {k["key_id"] for k in listed}
    assert engine.http.delete("/api/v1/apikeys/isage_key_nope", headers=admin).status_code == 404


@pytest.mark.parametrize("body", [
    {"name": "x", "scope": "admin"},
    {"name": "x", "scope": "read", "rate_limit_rps": 0},
    {"name": "x", "scope": "read", "expires_at": "2001-01-01T00:00:00Z"},
    {"name": "", "scope": "read"},
    {"scope": "read"},
])
def test_bad_keys_are_422(engine: RunningEngine, body: dict) -> None:
    def key_ids() -> set[str]:
        return {k["key_id"] for k in engine.http.get("/api/v1/apikeys", headers=engine.auth()).json()["api_keys"]}

    before = key_ids()
    response = engine.http.post("/api/v1/apikeys", json=body, headers=engine.auth())
    assert response.status_code == 422, response.text
    assert key_ids() == before


def test_key_last_used_is_tracked(engine: RunningEngine) -> None:
    key_id, api_key = engine.create_key("read")
    assert engine.http.get("/api/v1/rbac/permissions", headers={"X-API-Key": api_key}).status_code == 200

    def last_used() -> str | None:
        keys = engine.http.get("/api/v1/apikeys", headers=engine.auth()).json()["api_keys"]
        return next(k for k in keys if k["key_id"] == key_id)["last_used_at"]

    assert wait_for(last_used, timeout=20, what="last_used_at to be recorded")


def test_revocation_takes_effect_within_a_second(engine: RunningEngine) -> None:
    import time

    key_id, api_key = engine.create_key("read")
    assert engine.http.get("/api/v1/status", headers={"X-API-Key": api_key}).status_code == 200
    revoked_at = time.monotonic()
    assert engine.http.delete(f"/api/v1/apikeys/{key_id}", headers=engine.auth()).status_code == 204
    wait_for(lambda: engine.http.get("/api/v1/status", headers={"X-API-Key": api_key}).status_code == 401,
             timeout=10, interval=0.05, what="the revoked key to be refused")
    # Settings promise auth.key_cache_seconds (1 s); allow scheduling noise on two busy cores.
    assert time.monotonic() - revoked_at < engine.settings.auth.key_cache_seconds + 1.5


def test_key_rate_limit_answers_429_with_retry_after(engine: RunningEngine) -> None:
    _, api_key = engine.create_key("read", rate_limit_rps=2)
    answers = [engine.http.get("/api/v1/rbac/permissions", headers={"X-API-Key": api_key}) for _ in range(12)]
    codes = [answer.status_code for answer in answers]
    assert codes.count(200) >= 2 and 429 in codes, codes
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"


def test_keys_are_stored_only_as_hashes(engine: RunningEngine) -> None:
    from aiops.auth.api_keys import hash_key
    from aiops.storage.gateway import StoreGateway

    key_id, api_key = engine.create_key("ingestion")
    store = StoreGateway(engine.settings, in_process=False)  # through the storage owner
    secret_part = api_key.removeprefix("isage_")
    assert store.sync.tables_containing(secret_part) == []
    assert store.sync.tables_containing(hash_key(api_key)) == ["api_keys"]  # the search itself works
    assert store.sync.tables_containing(key_id) != []
    # And not in the files on disk either (parts are written at insert).
    for path, data in file_contents(engine.settings.data_dir / "clickhouse"):
        assert secret_part.encode() not in data, path
