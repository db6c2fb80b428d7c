"""The Store is its repositories: each public Store method is one repository's, same contract.

Storage is one repository per aggregate (points in and out, anomalies, alerts, RCA, the
incident memory, incidents, notifications, detector state, spans, logs, rollups; tenants and
API keys under their own verbs). The Store builds them over one client pool and offers their
methods under the names the gateway and the storage owner serve; a Store method whose
signature drifted from its repository's would type-check callers against the wrong contract.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from aiops.settings import load_settings
from aiops.storage.anomaly_queries import AnomalyRepository
from aiops.storage.gateway import _STORE_METHODS
from aiops.storage.records import AnomalyRecord
from aiops.storage.store import Store

# The Store's own (lifecycle and a whole-database audit) and the tenant and key registries,
# whose repositories name their verbs without the noun (``tenants.create``).
OWN = {"close", "ping", "migrate", "tables_containing"}
REGISTRY = {"create_tenant": ("tenants", "create"), "delete_tenant": ("tenants", "delete"),
            "tenant_deleted_at": ("tenants", "deleted_at"), "tenant_plan": ("tenants", "plan"),
            "get_tenant": ("tenants", "get"), "list_all_tenants": ("tenants", "list_all"),
            "create_api_key": ("api_keys", "create"), "list_api_keys": ("api_keys", "list"),
            "find_api_key_by_hash": ("api_keys", "find_by_hash"), "revoke_api_key": ("api_keys", "revoke"),
            "touch_api_keys": ("api_keys", "touch")}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(load_settings(data_dir=tmp_path_factory.mktemp("repositories")))
    store.migrate()
    try:
        yield store
    finally:
        store.close()  # chDB: one path per process at a time


def repositories(store: Store) -> dict[str, object]:
    """The Store's repositories by name without the leading underscore (they are private: callers
    reach storage through the Store's methods, which the gateway serves)."""
    return {name.removeprefix("_"): value for name, value in vars(store).items()
            if name != "_pool" and type(value).__module__.startswith("aiops.storage.")}


def declared(method: object) -> list[inspect.Parameter]:
    """Parameters without ``self`` and without the ``_ray_trace_ctx`` Ray adds to an actor's class."""
    return [p for p in inspect.signature(method).parameters.values()  # type: ignore[arg-type]
            if p.name not in ("self", "_ray_trace_ctx")]


def test_each_store_method_is_exactly_one_repositorys_with_its_signature(store: Store) -> None:
    repos = repositories(store)
    assert len(repos) >= 13, sorted(repos)
    for name in sorted(_STORE_METHODS - OWN):
        if name in REGISTRY:
            owners = [REGISTRY[name]]
        else:
            owners = [(attr, name) for attr, repo in repos.items() if callable(getattr(repo, name, None))]
        assert len(owners) == 1, f"Store.{name}: found in {owners or 'no repository'}"
        attr, method = owners[0]
        theirs = getattr(type(repos[attr]), method)
        ours = getattr(Store, name)
        assert declared(ours) == declared(theirs), f"Store.{name} and {attr}.{method} differ"
        assert inspect.signature(ours).return_annotation == inspect.signature(theirs).return_annotation, name


def test_a_repository_on_the_stores_pool_reads_what_the_store_wrote(store: Store) -> None:
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    anomaly = AnomalyRecord(tenant_id="acme", anomaly_id="anom-1", service_id="checkout", metric_name="latency",
                            series_id=7, labels={}, source="watchdog", model="ewma", anomaly_score=0.9, z_score=4.0,
                            detected_at=at, last_seen_at=at)
    store.upsert_anomalies([anomaly])
    found = AnomalyRepository(store._pool).get_anomaly("acme", "anom-1")  # noqa: SLF001 - the one pool
    assert found is not None and found.service_id == "checkout" and found.detected_at == at
    assert AnomalyRepository(store._pool).get_anomaly("other", "anom-1") is None  # noqa: SLF001
