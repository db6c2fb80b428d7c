"""The one app builder: every Serve deployment of the engine, wired together.

``configs/serve.yaml`` points its ``import_path`` here, and ``aiops up`` calls it too.
"""

from __future__ import annotations

from typing import Any, cast

from ray.serve import Application, Deployment

from aiops.auth.secrets import prepare_settings
from aiops.settings import Settings, load_settings
from deployments.api import ApiGateway

APP_NAME = "aiops"


def build_app(args: dict[str, Any] | Settings | None = None) -> Application:
    """Build the engine's Serve application.

    ``args`` is a :class:`Settings` (from ``aiops up``) or a dict of setting overrides
    (from a Serve config file's ``args``), applied on top of ``configs/engine.yaml`` and
    the ``AIOPS_*`` environment.
    """
    settings = args if isinstance(args, Settings) else prepare_settings(load_settings(**(args or {})))
    gateway = cast(Deployment, ApiGateway)  # what @serve.deployment made of the class (Ray leaves it untyped)
    return gateway.options(num_replicas=settings.serve.api_replicas).bind(settings)
