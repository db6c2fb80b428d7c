"""Every route, every way in: the table of auth rules, checked over real HTTP.

Adding a route without adding it here fails ``test_table_covers_every_route``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import APIRoute

from aiops.auth.roles import Permission, Role
from aiops.settings import load_settings
from tests.conftest import RunningEngine, wait_for

OPEN_ROUTES = {"/-/healthy", "/-/ready", "/metrics", "/api/v1/openapi.json", "/api/v1/docs",
               "/api/v1/docs/oauth2-redirect"}
ALL_SCOPES = ("ingestion", "read", "webhook")


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


Prepare = Callable[[RunningEngine], tuple[str, dict]]  # path, httpx request arguments


@dataclass(frozen=True)
class RouteCase:
    method: str
    template: str
    permission: Permission
    key_scopes: frozenset[str]
    tenant_scoped: bool
    prepare: Prepare
    owner_only: bool = False  # names an object: another tenant gets 404

    @property
    def id(self) -> str:
        return f"{self.method} {self.template}"


def fixed(path: str, body: dict | None = None) -> Prepare:
    return lambda engine: (path, {"json": body} if body is not None else {})


def new_tenant_body(engine: RunningEngine) -> tuple[str, dict]:
    return "/api/v1/tenants", {"json": {"tenant_id": unique("t"), "name": "Some Tenant", "plan": "free"}}


def fresh_tenant_path(engine: RunningEngine) -> tuple[str, dict]:
    tenant_id = unique("gone")
    made = engine.http.post("/api/v1/tenants", json={"tenant_id": tenant_id, "name": "Gone", "plan": "free"},
                            headers=engine.auth(tenant="root", role=Role.SUPER_ADMIN))
    assert made.status_code == 201, made.text
    return f"/api/v1/tenants/{tenant_id}", {}


def acme_key_path(engine: RunningEngine) -> tuple[str, dict]:
    key_id, _ = engine.create_key("read")
    return f"/api/v1/apikeys/{key_id}", {}


def json_points(engine: RunningEngine) -> tuple[str, dict]:
    body = {"series": [{"service_id": "auth-table", "metric_name": "cpu", "points": [[time.time(), 1.0]]}]}
    return "/api/v1/ingest/metrics", {"json": body}


def remote_write_points(engine: RunningEngine) -> tuple[str, dict]:
    from aiops.ingest.remote_write import encode_write_request

    body = encode_write_request([({"__name__": "cpu", "job": "auth-table"}, [(int(time.time() * 1000), 1.0)])])
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
    return "/api/v1/ingest/prometheus", {"content": body, "headers": headers}


def acme_anomaly_path(engine: RunningEngine) -> tuple[str, dict]:
    from aiops.storage.gateway import StoreGateway
    from aiops.storage.records import AnomalyRecord

    now = datetime.now(UTC)
    anomaly = AnomalyRecord("acme", unique("anom"), "auth-table", "cpu", 1, {}, "watchdog", "ewma", 0.97, 5.0, now, now)
    StoreGateway(engine.settings, in_process=False).sync.upsert_anomalies([anomaly])
    return f"/api/v1/anomalies/{anomaly.anomaly_id}", {"json": {"resolved": True}}


def acme_rca_path(engine: RunningEngine) -> tuple[str, dict]:
    path, _ = acme_anomaly_path(engine)
    return path.replace("/anomalies/", "/rca/"), {}


def acme_correlations_path(engine: RunningEngine) -> tuple[str, dict]:
    path, body = json_points(engine)  # the service must exist for the tenant, or it is a 404
    assert engine.http.post(path, **body, headers=engine.auth()).status_code == 200
    return "/api/v1/rca/correlations?service_id=auth-table", {}


def otlp_spans(engine: RunningEngine) -> tuple[str, dict]:
    """One span of service auth-table, as OTLP JSON (trace and span ids in hex)."""
    now = time.time_ns()
    span = {"traceId": secrets.token_hex(16), "spanId": secrets.token_hex(8), "name": "GET /auth", "kind": 2,
            "startTimeUnixNano": str(now - 10**9), "endTimeUnixNano": str(now)}
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                            "value": {"stringValue": "auth-table"}}]},
                               "scopeSpans": [{"spans": [span]}]}]}
    return "/v1/traces", {"json": body}


def acme_trace_path(engine: RunningEngine) -> tuple[str, dict]:
    path, body = otlp_spans(engine)
    assert engine.http.post(path, **body, headers=engine.auth()).status_code == 200
    return f"/api/v1/traces/{body['json']['resourceSpans'][0]['scopeSpans'][0]['spans'][0]['traceId']}", {}


def acme_incident_path(engine: RunningEngine) -> tuple[str, dict]:
    """An incident of acme: a watchdog episode on a service of its own, grouped by the incident manager."""
    from aiops.storage.gateway import StoreGateway
    from aiops.storage.records import AnomalyRecord

    now = datetime.now(UTC)
    service = unique("auth-svc")
    anomaly = AnomalyRecord("acme", unique("anom"), service, "cpu", 1, {}, "watchdog", "ewma", 0.97, 5.0, now, now,
                            updated_at=now)
    StoreGateway(engine.settings, in_process=False).sync.upsert_anomalies([anomaly])

    def holding() -> list[dict]:
        # The one still open that holds the episode: when an analysis names a root cause another
        # open acme incident shares, the two merge (the merged one stays listed, resolved, with
        # merged_into), so the service can be in two listed incidents.
        listed = engine.http.get("/api/v1/incidents", params={"service_id": service}, headers=engine.auth())
        return [i for i in listed.json()["incidents"] if i["status"] != "resolved" and i["merged_into"] is None]

    incident = wait_for(holding, timeout=30, interval=0.2, what="the incident")[0]
    return f"/api/v1/incidents/{incident['incident_id']}", {"json": {"status": "acknowledged"}}


def channel_body(engine: RunningEngine) -> tuple[str, dict]:
    """A webhook channel for acme (older ones deleted first: a tenant holds a bounded number)."""
    listed = engine.http.get("/api/v1/notifications/channels", headers=engine.auth()).json()["channels"]
    if len(listed) >= 10:
        for channel in listed:
            engine.http.delete(f"/api/v1/notifications/channels/{channel['channel_id']}", headers=engine.auth())
    return "/api/v1/notifications/channels", {"json": {"name": "auth table", "type": "webhook",
                                                       "url": "http://127.0.0.1:9/hook", "secret": "s" * 20}}


def acme_channel_path(engine: RunningEngine) -> tuple[str, dict]:
    path, body = channel_body(engine)
    made = engine.http.post(path, **body, headers=engine.auth())
    assert made.status_code == 201, made.text
    return f"/api/v1/notifications/channels/{made.json()['channel_id']}", {}


def acme_channel_test_path(engine: RunningEngine) -> tuple[str, dict]:
    path, _ = acme_channel_path(engine)
    return path + "/test", {}


READ = frozenset({"read"})
INGESTION = frozenset({"ingestion"})
NONE: frozenset[str] = frozenset()

CASES = [
    RouteCase("GET", "/api/v1/status", Permission.READ, READ, False, fixed("/api/v1/status")),
    RouteCase("GET", "/api/v1/tenants", Permission.MANAGE_TENANTS, NONE, False, fixed("/api/v1/tenants")),
    RouteCase("POST", "/api/v1/tenants", Permission.MANAGE_TENANTS, NONE, False, new_tenant_body),
    RouteCase("DELETE", "/api/v1/tenants/{tenant_id}", Permission.MANAGE_TENANTS, NONE, False, fresh_tenant_path),
    RouteCase("GET", "/api/v1/rbac/permissions", Permission.READ, READ, False, fixed("/api/v1/rbac/permissions")),
    RouteCase("POST", "/api/v1/apikeys", Permission.MANAGE_KEYS, NONE, True,
              fixed("/api/v1/apikeys", {"name": "k", "scope": "read", "rate_limit_rps": 10})),
    RouteCase("GET", "/api/v1/apikeys", Permission.MANAGE_KEYS, NONE, True, fixed("/api/v1/apikeys")),
    RouteCase("DELETE", "/api/v1/apikeys/{key_id}", Permission.MANAGE_KEYS, NONE, True, acme_key_path,
              owner_only=True),
    RouteCase("POST", "/api/v1/ingest/metrics", Permission.WRITE, INGESTION, True, json_points),
    RouteCase("POST", "/api/v1/ingest/prometheus", Permission.WRITE, INGESTION, True, remote_write_points),
    RouteCase("GET", "/api/v1/series", Permission.READ, READ, True, fixed("/api/v1/series?service_id=auth-table")),
    RouteCase("GET", "/api/v1/anomalies", Permission.READ, READ, True, fixed("/api/v1/anomalies")),
    RouteCase("PATCH", "/api/v1/anomalies/{anomaly_id}", Permission.WRITE, NONE, True, acme_anomaly_path,
              owner_only=True),
    RouteCase("GET", "/api/v1/models", Permission.READ, READ, True, fixed("/api/v1/models")),
    RouteCase("PUT", "/api/v1/models/{kind}", Permission.MANAGE_USERS, NONE, True,
              fixed("/api/v1/models/detector", {"name": "ewma", "config": {}})),
    RouteCase("GET", "/api/v1/rca/correlations", Permission.READ, READ, True, acme_correlations_path),
    RouteCase("GET", "/api/v1/rca/{anomaly_id}", Permission.READ, READ, True, acme_rca_path, owner_only=True),
    RouteCase("GET", "/api/v1/topology", Permission.READ, READ, True, fixed("/api/v1/topology")),
    RouteCase("POST", "/api/v1/resolutions/webhook", Permission.WRITE, NONE, True,
              fixed("/api/v1/resolutions/webhook", {"service_id": "auth-table", "resolution": "restarted it"})),
    RouteCase("POST", "/api/v1/incidents/search", Permission.READ, READ, True,
              fixed("/api/v1/incidents/search", {"query": "auth table down", "limit": 3})),
    RouteCase("PUT", "/api/v1/topology", Permission.WRITE, NONE, True,
              fixed("/api/v1/topology", {"edges": [{"caller": "auth-front", "callee": "auth-table"}]})),
    RouteCase("POST", "/v1/traces", Permission.WRITE, INGESTION, True, otlp_spans),
    RouteCase("POST", "/v1/metrics", Permission.WRITE, INGESTION, True, fixed("/v1/metrics", {})),
    RouteCase("POST", "/v1/logs", Permission.WRITE, INGESTION, True, fixed("/v1/logs", {"resourceLogs": []})),
    RouteCase("GET", "/api/v1/traces", Permission.READ, READ, True, fixed("/api/v1/traces")),
    RouteCase("GET", "/api/v1/traces/{trace_id}", Permission.READ, READ, True, acme_trace_path, owner_only=True),
    RouteCase("GET", "/api/v1/logs", Permission.READ, READ, True, fixed("/api/v1/logs")),
    RouteCase("GET", "/api/v1/incidents", Permission.READ, READ, True, fixed("/api/v1/incidents")),
    RouteCase("GET", "/api/v1/incidents/{incident_id}", Permission.READ, READ, True,
              lambda engine: (acme_incident_path(engine)[0], {}), owner_only=True),
    RouteCase("PATCH", "/api/v1/incidents/{incident_id}", Permission.WRITE, NONE, True, acme_incident_path,
              owner_only=True),
    RouteCase("POST", "/api/v1/notifications/channels", Permission.MANAGE_USERS, NONE, True, channel_body),
    RouteCase("GET", "/api/v1/notifications/channels", Permission.MANAGE_USERS, NONE, True,
              fixed("/api/v1/notifications/channels")),
    RouteCase("DELETE", "/api/v1/notifications/channels/{channel_id}", Permission.MANAGE_USERS, NONE, True,
              acme_channel_path, owner_only=True),
    RouteCase("POST", "/api/v1/notifications/channels/{channel_id}/test", Permission.MANAGE_USERS, NONE, True,
              acme_channel_test_path, owner_only=True),
]
BY_ID = {case.id: case for case in CASES}


def call(engine: RunningEngine, case: RouteCase, headers: dict[str, str]):
    path, arguments = case.prepare(engine)
    merged = {**arguments.get("headers", {}), **headers}
    return engine.http.request(case.method, path, **{**arguments, "headers": merged})


def assert_error(response, status: int) -> None:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    if response.request.url.path.startswith("/v1/"):  # OTLP receivers answer with OTLP's google.rpc.Status
        status_body = response.json()
        assert isinstance(status_body["code"], int) and status_body["message"]
        return
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["message"]


# -- the table matches the app ------------------------------------------------------------
def test_table_covers_every_route(tmp_path) -> None:
    from deployments.api import ROUTERS, create_api
    from deployments.context import ApiContext
    from deployments.deps import RequirePermission
    from deployments.routing import AuthorizedRoute

    app = create_api(ApiContext.build(load_settings(data_dir=tmp_path, jwt_secret="x" * 40)))
    # Everything the app serves comes from ROUTERS, plus FastAPI's own documented pages.
    served = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    declared = {(method, route.path) for router in ROUTERS for route in router.routes for method in route.methods}
    assert served == declared
    for route in app.routes:
        if hasattr(route, "path"):
            assert route.path in OPEN_ROUTES, f"{route.path} is neither a router's route nor a documented open one"

    seen = set()
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            # Credentials before the body: every route checks its rule before reading a byte of it
            # (the OTLP receivers through AuthorizedRoute's OTLP variant, which answers google.rpc.Status).
            assert isinstance(route, AuthorizedRoute), f"{route.path} does not check credentials first"
            rules = [d.call for d in route.dependant.dependencies if isinstance(d.call, RequirePermission)]
            for method in route.methods:
                if route.path in OPEN_ROUTES:
                    assert not rules, f"{route.path} is documented as open"
                    continue
                case = BY_ID.get(f"{method} {route.path}")
                assert case is not None, f"{method} {route.path} is missing from the auth table"
                assert len(rules) == 1, f"{method} {route.path} must declare exactly one auth rule"
                rule = rules[0]
                assert (rule.permission, set(rule.scopes), rule.tenant_scoped) == (
                    case.permission, set(case.key_scopes), case.tenant_scoped), case.id
                seen.add(case.id)
    assert seen == set(BY_ID)


# -- refusals -----------------------------------------------------------------------------
def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


BAD_CREDENTIALS = {
    "none": lambda engine: {},
    "garbage": lambda engine: {"Authorization": "Bearer garbage.garbage.garbage"},
    "expired": lambda engine: engine.auth(role=Role.SUPER_ADMIN, ttl=-300),
    "alg-none": lambda engine: {"Authorization": "Bearer " + _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(
        {"sub": "x", "tenant_id": "acme", "role": "super_admin", "exp": int(time.time()) + 600}) + "."},
    "unknown-key": lambda engine: {"X-API-Key": "isage_" + secrets.token_urlsafe(32)},
    "unknown-tenant": lambda engine: engine.auth(tenant="no-such-tenant", role=Role.ADMIN),
}


@pytest.mark.engine
@pytest.mark.parametrize("credential", list(BAD_CREDENTIALS))
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_credentials_are_401(engine: RunningEngine, case: RouteCase, credential: str) -> None:
    assert_error(call(engine, case, BAD_CREDENTIALS[credential](engine)), 401)


@pytest.mark.engine
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_roles_without_the_permission_are_403(engine: RunningEngine, case: RouteCase) -> None:
    lacking = [role for role in Role if not role.allows(case.permission)]
    for role in lacking:
        assert_error(call(engine, case, engine.auth(role=role)), 403)


@pytest.mark.engine
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_role_with_the_permission_succeeds(engine: RunningEngine, case: RouteCase) -> None:
    for role in [role for role in Role if role.allows(case.permission)]:
        response = call(engine, case, engine.auth(role=role))
        assert response.status_code < 300, f"{role}: {response.status_code} {response.text}"


@pytest.fixture(scope="module")
def keys(engine: RunningEngine) -> dict[str, str]:
    """One usable key per scope, plus a revoked and an expired one (all of tenant acme)."""
    made = {scope: engine.create_key(scope)[1] for scope in ALL_SCOPES}
    revoked_id, made["revoked"] = engine.create_key("read")
    assert engine.http.delete(f"/api/v1/apikeys/{revoked_id}", headers=engine.auth()).status_code == 204
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    _, made["expired"] = engine.create_key("read", expires_at=soon)
    wait_for(lambda: engine.http.get("/api/v1/rbac/permissions", headers={"X-API-Key": made["expired"]})
             .status_code == 401, timeout=15, what="the short-lived key to expire")
    return made


@pytest.mark.engine
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_keys_by_scope_revocation_and_expiry(engine: RunningEngine, keys: dict[str, str], case: RouteCase) -> None:
    for scope in ALL_SCOPES:
        for header in ({"X-API-Key": keys[scope]}, {"Authorization": f"Bearer {keys[scope]}"}):
            response = call(engine, case, header)
            if scope in case.key_scopes:
                assert response.status_code < 300, f"{scope}: {response.status_code} {response.text}"
            else:
                assert_error(response, 403)
    assert_error(call(engine, case, {"X-API-Key": keys["revoked"]}), 401)
    assert_error(call(engine, case, {"X-API-Key": keys["expired"]}), 401)


@pytest.mark.engine
@pytest.mark.parametrize("case", [c for c in CASES if c.owner_only], ids=lambda case: case.id)
def test_another_tenants_objects_are_404(engine: RunningEngine, case: RouteCase) -> None:
    path, arguments = case.prepare(engine)  # an object of acme
    response = engine.http.request(case.method, path, **arguments, headers=engine.auth(tenant="globex"))
    assert_error(response, 404)
    response = engine.http.request(case.method, path, **arguments, headers=engine.auth(tenant="acme"))
    assert response.status_code < 300  # and it was untouched: its owner still can


@pytest.mark.engine
@pytest.mark.parametrize("case", [c for c in CASES if c.tenant_scoped], ids=lambda case: case.id)
def test_super_admin_of_a_missing_tenant_gets_404_on_tenant_data(engine: RunningEngine, case: RouteCase) -> None:
    assert_error(call(engine, case, engine.auth(tenant="nowhere", role=Role.SUPER_ADMIN)), 404)
