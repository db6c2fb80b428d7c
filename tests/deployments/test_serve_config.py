"""``configs/serve.yaml`` deploys the API beside a running engine, the way ``serve run`` does."""

from __future__ import annotations

import httpx
import pytest
import yaml
from ray import serve
from ray.serve.schema import ServeDeploySchema

from aiops.auth.roles import Role
from tests.conftest import REPO, RunningEngine, wait_for

pytestmark = pytest.mark.engine


def test_serve_yaml_builds_and_serves_the_api(engine: RunningEngine) -> None:
    config = ServeDeploySchema.model_validate(yaml.safe_load((REPO / "configs" / "serve.yaml").read_text()))
    [application] = config.applications
    module, _, attribute = application.import_path.partition(":")
    builder = getattr(__import__(module, fromlist=[attribute]), attribute)
    # Serve's step: the builder gets the config's args (here pointed at the test engine) ...
    settings = engine.settings
    args = {**application.args, "data_dir": str(settings.data_dir), "http_port": settings.http_port,
            "jwt_secret": settings.jwt_secret.get_secret_value(), "webhook_port": settings.webhook_port,
            "rca": {"workers": 1}}
    app = builder(args)
    # ... and each deployment gets its overrides from the config, user_config included.
    [override] = application.deployments
    assert override.name == app._bound_deployment.name
    app._bound_deployment = app._bound_deployment.options(user_config=override.user_config)
    serve.run(app, name="serve-yaml", route_prefix="/serve-yaml", blocking=False)
    try:
        url = f"http://127.0.0.1:{settings.http_port}/serve-yaml"
        wait_for(lambda: httpx.get(f"{url}/-/ready", timeout=10).status_code == 200, timeout=90,
                 what="the serve.yaml app")
        status = httpx.get(f"{url}/api/v1/status", headers=engine.auth(role=Role.VIEWER), timeout=30)
        assert status.status_code == 200 and status.json()["components"]["clickhouse"] == "ok"
    finally:
        serve.delete("serve-yaml")


def test_unknown_knobs_are_refused() -> None:
    from pydantic import ValidationError

    from deployments.api import ServeKnobs

    assert ServeKnobs.model_validate({"max_batches_in_flight": 4}).max_batches_in_flight == 4
    with pytest.raises(ValidationError):
        ServeKnobs.model_validate({"max_batches_in_flight": 0})
    with pytest.raises(ValidationError):
        ServeKnobs.model_validate({"batch": 1})
