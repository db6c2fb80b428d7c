"""The channel create body is documented in the OpenAPI document, one schema per channel type."""

from __future__ import annotations

import orjson

from aiops.settings import load_settings


def test_the_channel_create_body_is_one_schema_per_type(tmp_path) -> None:
    from deployments.api import create_api
    from deployments.context import ApiContext

    app = create_api(ApiContext.build(load_settings(data_dir=tmp_path, jwt_secret="x" * 40)))
    body = app.openapi()["paths"]["/api/v1/notifications/channels"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    kinds = {option["properties"]["type"]["const"]: option for option in schema["oneOf"]}
    assert set(kinds) == {"alertmanager", "webhook", "slack"}
    assert {"name", "type", "url", "secret"} <= set(kinds["webhook"]["required"])
    assert all(option["additionalProperties"] is False for option in kinds.values())
    assert kinds["webhook"]["properties"]["secret"]["writeOnly"] is True  # shown as a prefix only, afterwards
    assert b"#/$defs/" not in orjson.dumps(body)  # OpenAPI has no $defs: everything is written in
