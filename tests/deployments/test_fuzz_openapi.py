"""Schemathesis against the engine's own OpenAPI document: every route, as several roles.

For each operation Hypothesis generates requests from the schema; each is sent as an
admin, an operator and a viewer of tenant ``acme``. No answer may be a 5xx, and every
answer must match what the document says (status code documented, body of the
documented schema, content type). Driven with Hypothesis directly, one operation after
another (Schemathesis' pytest plugin does not support pytest 9 yet).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aiops.auth.roles import Role
from tests.conftest import RunningEngine

pytestmark = pytest.mark.engine

ROLES = (Role.ADMIN, Role.OPERATOR, Role.VIEWER)


@schemathesis.serializer("application/x-protobuf")
def _protobuf_bytes(context, value) -> bytes:
    """remote_write bodies are documented as binary; send what Hypothesis made as raw bytes."""
    return value if isinstance(value, bytes) else str(value).encode()
EXAMPLES = 10


@schemathesis.check
def no_internals_in_errors(ctx, response, case) -> None:
    """Error answers carry a code and words for people: never a traceback, a Ray process or node, an exception name."""
    if response.status_code >= 400:
        from tests.deployments.test_internals import INTERNALS

        found = INTERNALS.search(response.text)
        if found is not None:
            raise AssertionError(f"{case.operation.label} answered {response.status_code} with internal detail "
                                 f"{found.group(0)!r}: {response.text[:300]}")


# What the issue promises. Not "positive data accepted": a schema cannot say that an
# expiry must lie in the future or a tenant id must be new, so schema-valid requests
# may rightly get a 4xx.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, no_internals_in_errors]


def fuzz(client, base_url: str, header_sets: list[dict]) -> tuple[int, list[str]]:
    """Every operation of the document ``client`` serves, each example sent with each header set."""
    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").json())
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case) -> None:
            for headers in header_sets:
                case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

        try:
            exercise()
        except BaseException as error:  # Schemathesis raises exception groups; collect them all
            if isinstance(error, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    return operations, failures


@pytest.mark.reliability(
    fault="Schemathesis on every REST route (generated requests, as admin, operator and viewer)",
    promise="no 5xx; every answer's status, content type, headers and body as documented; no error answer "
            "carries a traceback, a Ray process or node, or an exception's name",
    kind="11 internals in answers",
)
def test_the_api_answers_as_documented(engine: RunningEngine, record_property) -> None:
    operations, failures = fuzz(engine.http, f"http://127.0.0.1:{engine.settings.http_port}",
                                [engine.auth(role=role) for role in ROLES])
    assert operations >= 20  # every documented operation was exercised
    assert not failures, "\n\n".join(failures)
    record_property("measured", f"{operations} operations x {EXAMPLES} examples x {len(ROLES)} roles, 0 failures")


@pytest.mark.reliability(
    fault="Schemathesis on the 9093 webhook port (no key, and a webhook key)",
    promise="no 5xx; every answer as documented; no internals in error answers",
)
def test_the_webhook_port_answers_as_documented(engine: RunningEngine, record_property) -> None:
    _, key = engine.create_key("webhook")
    operations, failures = fuzz(engine.webhook, f"http://127.0.0.1:{engine.settings.webhook_port}",
                                [{}, {"Authorization": f"Bearer {key}"}])
    assert operations >= 3
    assert not failures, "\n\n".join(failures)
    record_property("measured", f"{operations} operations x {EXAMPLES} examples x 2 credentials, 0 failures")
