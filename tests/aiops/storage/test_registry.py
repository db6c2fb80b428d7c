"""Tenant lifecycle and the RCA queue's fairness, on real chDB."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops.auth.api_keys import generate_key
from aiops.settings import load_settings
from aiops.storage.records import WAITED_FOR, ApiKeyRecord, TenantRecord
from aiops.storage.store import Store
from tests.properties import STORAGE_PROPERTY

_names = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(load_settings(data_dir=tmp_path_factory.mktemp("registry")))
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def tenant(tenant_id: str) -> TenantRecord:
    return TenantRecord(tenant_id, tenant_id.title(), "pro", "", datetime.now(UTC))


def key_of(tenant_id: str, scope: str = "read") -> ApiKeyRecord:
    new = generate_key()
    return ApiKeyRecord(tenant_id, new.key_id, "k", scope, new.prefix, new.key_hash, 10.0, datetime.now(UTC), "admin")


def test_deleting_a_tenant_revokes_its_keys_and_retires_its_id(store: Store) -> None:
    assert store.create_tenant(tenant("acme"))
    key = key_of("acme")
    store.create_api_key(key)
    deleted_at = datetime.now(UTC)
    assert store.delete_tenant("acme", deleted_at)
    [revoked] = store.list_api_keys("acme", include_revoked=True)
    assert revoked.key_id == key.key_id and revoked.revoked_at is not None
    assert store.find_api_key_by_hash(key.key_hash).revoked_at is not None
    assert store.create_tenant(tenant("acme")) is False  # the id is not given out again
    assert store.tenant_deleted_at("acme") == deleted_at.replace(microsecond=deleted_at.microsecond // 1000 * 1000)
    assert store.tenant_plan("acme") is None and store.get_tenant("acme") is None
    assert store.tenant_deleted_at("never-existed") is None


@pytest.mark.reliability(
    fault="any sequence of creating and deleting tenant ids, with keys made between (Hypothesis, real chDB)",
    promise="an id once deleted is never a tenant again; every key of a deleted tenant is revoked",
    kind="4 tenant lifecycle",
)
def test_a_deleted_tenant_never_comes_back(store: Store, record_property) -> None:
    counts = {"operations": 0, "refused": 0}

    @STORAGE_PROPERTY
    @given(steps=st.lists(st.tuples(st.sampled_from(["create", "delete", "key"]), st.integers(0, 2)),
                          min_size=1, max_size=8))
    def check(steps) -> None:
        prefix = f"life{next(_names)}"
        alive: set[str] = set()
        retired: set[str] = set()
        keys: dict[str, list[str]] = {}
        for action, number in steps:
            tenant_id = f"{prefix}-{number}"
            counts["operations"] += 1
            if action == "create":
                created = store.create_tenant(tenant(tenant_id))
                assert created == (tenant_id not in alive and tenant_id not in retired)
                counts["refused"] += not created
                alive |= {tenant_id} if created else set()
            elif action == "delete":
                assert store.delete_tenant(tenant_id, datetime.now(UTC)) == (tenant_id in alive)
                if tenant_id in alive:
                    alive.remove(tenant_id)
                    retired.add(tenant_id)
            elif tenant_id in alive:
                made = key_of(tenant_id)
                store.create_api_key(made)
                keys.setdefault(tenant_id, []).append(made.key_hash)
        assert {t for t in alive | retired if store.tenant_plan(t) is not None} == alive
        for tenant_id in retired:
            assert all(store.find_api_key_by_hash(h).revoked_at is not None for h in keys.get(tenant_id, []))

    check()
    record_property("measured", f"{counts['operations']} create/delete/key operations over generated sequences: "
                                f"{counts['refused']} re-creations refused; no deleted id or key came back")


@pytest.mark.reliability(
    fault="one tenant floods the RCA queue (an Alertmanager payload of many alerts) while others queue a few "
          "(Hypothesis, real chDB)",
    promise="within a priority, tenants take turns: each tenant's k-th request comes before any tenant's (k+1)-th",
    kind="3 the open port 9093",
)
def test_the_rca_queue_is_fair_across_tenants(store: Store, record_property) -> None:
    checked = [0]

    @STORAGE_PROPERTY
    @given(queues=st.lists(st.tuples(st.integers(1, 30), st.booleans()), min_size=1, max_size=4))
    def check(queues) -> None:
        prefix = f"q{next(_names)}"
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=next(_names))
        for index, (count, waited) in enumerate(queues):
            store.request_rcas(f"{prefix}-{index}", [f"{prefix}-{index}-{n}" for n in range(count)],
                               at + timedelta(seconds=index), WAITED_FOR if waited else 0)
        mine = [r for r in store.rca_queue_all_tenants(100_000) if r.tenant_id.startswith(prefix + "-")]
        assert len(mine) == sum(count for count, _ in queues)
        turns: dict[str, int] = {}
        last = (-1, 0)
        for request in mine:
            turns[request.tenant_id] = turns.get(request.tenant_id, 0) + 1
            position = (-request.priority, turns[request.tenant_id])
            assert position >= last, [(r.tenant_id, r.priority) for r in mine]
            last = position
        checked[0] += len(mine)

    check()
    record_property("measured", f"{checked[0]} queued requests over generated multi-tenant floods: every "
                                "tenant's k-th request before anyone's (k+1)-th, waited-for ones first")
