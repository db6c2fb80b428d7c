"""``/api/v1/models``: which models exist, which a tenant uses, and swapping them live."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import ValidationError

from aiops.errors import Unprocessable
from aiops.schemas.models import ModelChoice, ModelChosen, ModelList, ModelOut
from deployments.deps import Admin, Ctx, Reader
from deployments.routing import AuthorizedRoute
from models.registry import entries, entry

router = APIRouter(prefix="/api/v1/models", tags=["models"], route_class=AuthorizedRoute)

SWAPPABLE = ("detector", "ranker", "embedder")


def defaults(context: Ctx) -> dict[str, str]:
    return {"detector": context.settings.watchdog.detector, "embedder": context.settings.vectorizer.model,
            "ranker": context.settings.rca.ranker}


@router.get("", response_model=ModelList)
async def list_models(identity: Reader, context: Ctx) -> ModelList:
    chosen = await context.store.aio.model_choices(identity.tenant_id)
    active = {**defaults(context), **{kind: choice[0] for kind, choice in chosen.items()}}
    return ModelList(
        models=[ModelOut(kind=e.kind, name=e.name, summary=e.summary, active=active.get(e.kind) == e.name)
                for e in entries()],
        active=active,
    )


@router.put("/{kind}", response_model=ModelChosen)
async def choose_model(kind: Literal["detector", "embedder", "ranker"], body: ModelChoice, identity: Admin,
                       context: Ctx) -> ModelChosen:
    """Swap the tenant's model of this kind without a restart (admin)."""
    if kind not in SWAPPABLE:
        raise Unprocessable(f"{kind} models cannot be swapped per tenant yet")
    try:
        model = entry(kind, body.name)
    except KeyError as error:
        raise Unprocessable(str(error.args[0])) from None
    try:
        model.load().Config.model_validate(body.config)
    except ValidationError as error:
        problems = "; ".join(f"config.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise Unprocessable(problems) from None
    now = datetime.now(UTC)
    if kind == "ranker":  # read from the choice at each analysis: recording it is the swap
        await context.engine.choose_ranker(identity.tenant_id, body.name, body.config, identity.user_id, now)
        return ModelChosen(kind=kind, name=body.name, config=body.config, chosen_at=now, warmed_up_on_points=0)
    if kind == "embedder":  # the tenant's vectorizer re-embeds its resolutions with the new model
        embedded = await context.engine.swap_embedder(identity.tenant_id, body.name, body.config, identity.user_id,
                                                       now)
        return ModelChosen(kind=kind, name=body.name, config=body.config, chosen_at=now, reembedded=embedded)
    learned = await context.engine.swap_detector(identity.tenant_id, body.name, body.config, identity.user_id, now)
    return ModelChosen(kind=kind, name=body.name, config=body.config, chosen_at=now, warmed_up_on_points=learned)
