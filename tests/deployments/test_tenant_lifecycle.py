"""Tenant lifecycle (kind 4): a deleted tenant's id is retired, its keys revoked, its tokens dead for good."""

from __future__ import annotations

import secrets

import pytest

from aiops.auth.roles import Role
from tests.conftest import RunningEngine, wait_for
from tests.deployments.test_alerts import WEBHOOK, for_tenant

pytestmark = pytest.mark.engine


def super_admin(engine: RunningEngine) -> dict[str, str]:
    return engine.auth(tenant="root", role=Role.SUPER_ADMIN)


@pytest.mark.reliability(
    fault="delete a tenant, then create the same id again (the report: its old keys, anomalies and users' "
          "unexpired tokens came back)",
    promise="the id is refused with a clear 409 (ids are never reused); the old keys are revoked and every old "
            "credential stays 401",
    kind="4 tenant lifecycle",
)
def test_a_deleted_id_cannot_be_created_again(engine: RunningEngine, record_property) -> None:
    tenant = f"gone-{secrets.token_hex(3)}"
    body = {"tenant_id": tenant, "name": "Acme", "plan": "pro"}
    assert engine.http.post("/api/v1/tenants", json=body, headers=super_admin(engine)).status_code == 201
    token = engine.auth(tenant=tenant, role=Role.ADMIN)
    _, read_key = engine.create_key("read", tenant=tenant)
    _, webhook_key = engine.create_key("webhook", tenant=tenant)
    assert engine.webhook.post(WEBHOOK, json=for_tenant(tenant), headers={"X-API-Key": webhook_key}).status_code == 200
    assert engine.http.get("/api/v1/anomalies", headers=token).json()["total"] == 1

    assert engine.http.delete(f"/api/v1/tenants/{tenant}", headers=super_admin(engine)).status_code == 204
    again = engine.http.post("/api/v1/tenants", json=body, headers=super_admin(engine))
    assert again.status_code == 409
    message = again.json()["error"]["message"]
    assert "deleted" in message and "never reused" in message

    def old_credentials() -> list[int]:
        return [engine.http.get("/api/v1/anomalies", headers=token).status_code,
                engine.http.get("/api/v1/anomalies", headers={"X-API-Key": read_key}).status_code,
                engine.webhook.post(WEBHOOK, json=for_tenant(tenant), headers={"X-API-Key": webhook_key}).status_code,
                engine.webhook.post(WEBHOOK, json=for_tenant(tenant)).status_code]

    # Lookups are cached for auth.key_cache_seconds / tenant_cache_seconds (1 s) per process.
    answers = wait_for(lambda: (found := old_credentials())[:3] == [401, 401, 401] and found, timeout=10,
                       what="every old credential to be refused")
    assert answers[3] == 422  # a label-only alert: no such tenant

    from aiops.storage.gateway import StoreGateway

    keys = StoreGateway(engine.settings, in_process=False).sync.list_api_keys(tenant, include_revoked=True)
    assert len(keys) == 2 and all(key.revoked_at is not None for key in keys)
    record_property("measured", f"re-create: 409 ({message[:80]}...); old token, read key, webhook key: "
                                f"{answers[:3]}; both keys revoked in storage")


def test_the_cli_refuses_a_deleted_id_too(engine: RunningEngine) -> None:
    """``aiops tenant create`` goes through the same storage rule (here through the running engine's owner)."""
    from aiops.storage.gateway import StoreGateway
    from aiops.storage.records import TenantRecord

    store = StoreGateway(engine.settings, in_process=False).sync
    tenant = f"cli-{secrets.token_hex(3)}"
    assert engine.http.post("/api/v1/tenants", json={"tenant_id": tenant, "name": "X"},
                            headers=super_admin(engine)).status_code == 201
    assert engine.http.delete(f"/api/v1/tenants/{tenant}", headers=super_admin(engine)).status_code == 204
    from datetime import UTC, datetime

    assert store.create_tenant(TenantRecord(tenant, "X", "free", "", datetime.now(UTC))) is False
    assert store.tenant_deleted_at(tenant) is not None
