"""``aiops tenant create|list``: bootstrap tenants without HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from pydantic import ValidationError

from aiops.cli.common import engine_store, fail, settings_or_exit
from aiops.errors import ApiError
from aiops.schemas.tenants import TenantCreate
from aiops.tenants import new_tenant

app = typer.Typer(help="Tenants.", no_args_is_help=True)


@app.command("create")
def create(
    tenant_id: str = typer.Argument(..., help="lowercase slug, e.g. acme-corp"),
    name: str = typer.Option(..., "--name", help="display name"),
    plan: str | None = typer.Option(None, "--plan", help="one of the configured plans (default: default_plan)"),
    contact_email: str | None = typer.Option(None, "--contact-email"),
) -> None:
    """Register a tenant."""
    settings = settings_or_exit()
    try:
        body = TenantCreate(tenant_id=tenant_id, name=name, plan=plan, contact_email=contact_email)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise fail(problems, 2) from None
    try:
        record = new_tenant(body, settings, datetime.now(UTC))
    except ApiError as error:
        raise fail(error.message, 2) from None
    with engine_store(settings) as store:
        created = store.sync.create_tenant(record)
        deleted = None if created else store.sync.tenant_deleted_at(record.tenant_id)
    if deleted is not None:
        raise fail(f"tenant id {body.tenant_id!r} belonged to a tenant deleted at {deleted:%Y-%m-%d %H:%M:%S} UTC; "
                   "ids are never reused: choose another", 1)
    if not created:
        raise fail(f"tenant {body.tenant_id!r} already exists", 1)
    created_at = record.created_at.isoformat().replace("+00:00", "Z")
    typer.echo(json.dumps({"tenant_id": record.tenant_id, "created_at": created_at}))


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="one JSON document")) -> None:
    """List every tenant."""
    settings = settings_or_exit()
    with engine_store(settings) as store:
        tenants = store.sync.list_all_tenants()
    if as_json:
        typer.echo(json.dumps({"tenants": [
            {"tenant_id": t.tenant_id, "name": t.name, "plan": t.plan,
             "created_at": t.created_at.isoformat().replace("+00:00", "Z"),
             "events_this_month": t.events_this_month}
            for t in tenants
        ]}))
        return
    if not tenants:
        typer.echo("no tenants.")
        return
    typer.echo(f"{'TENANT':24} {'PLAN':10} {'CREATED':20} NAME")
    for t in tenants:
        typer.echo(f"{t.tenant_id:24} {t.plan:10} {t.created_at:%Y-%m-%d %H:%M:%S} {t.name}")
