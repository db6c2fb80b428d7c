"""Request dependencies, so a handler signature reads like a sentence.

``Ctx`` is the replica's :class:`ApiContext`. Every authenticated route declares exactly
one rule, a :class:`RequirePermission` (through the ``Reader`` / ``Writer`` / ... aliases):
the permission a JWT's role must grant, the API-key scopes admitted, and whether the
route works on the caller's tenant (then that tenant must exist: 404 for a super-admin
whose home tenant does not).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aiops.auth.api_keys import Scope
from aiops.auth.roles import Permission, Role
from aiops.auth.tokens import Identity
from aiops.errors import Forbidden, NotFound
from aiops.logs import TENANT_ID
from deployments.context import ApiContext


def get_context(request: Request) -> ApiContext:
    return request.app.state.context


Ctx = Annotated[ApiContext, Depends(get_context)]


async def authenticate(request: Request, context: Ctx) -> Identity:
    """The caller, resolved once per request (the route's preflight usually did it already)."""
    identity = getattr(request.state, "identity", None)
    if identity is None:
        identity = await context.auth.authenticate(request)
        request.state.identity = identity
    TENANT_ID.set(identity.tenant_id)  # for this request's log lines
    return identity


CurrentIdentity = Annotated[Identity, Depends(authenticate)]


class RequirePermission:
    """A route's auth rule. A class (not a closure) so tests can read every route's rule."""

    def __init__(self, permission: Permission, *, scopes: frozenset[Scope] = frozenset(),
                 tenant_scoped: bool = True) -> None:
        self.permission = permission
        self.scopes = scopes
        self.tenant_scoped = tenant_scoped

    async def __call__(self, identity: CurrentIdentity, context: Ctx) -> Identity:
        if identity.via == "api_key":
            if identity.scope not in self.scopes:
                raise Forbidden(f"an API key of scope {identity.scope!r} cannot call this route")
        elif not identity.role.allows(self.permission):
            raise Forbidden(f"role {identity.role.value} lacks the {self.permission.value} permission")
        if (self.tenant_scoped and identity.role is Role.SUPER_ADMIN
                and await context.auth.tenants.plan_of(identity.tenant_id) is None):
            raise NotFound(f"tenant {identity.tenant_id!r} not found")
        return identity


READ_KEY = frozenset({Scope.READ})

Reader = Annotated[Identity, Depends(RequirePermission(Permission.READ, scopes=READ_KEY))]
Writer = Annotated[Identity, Depends(RequirePermission(Permission.WRITE))]
Ingester = Annotated[Identity, Depends(RequirePermission(Permission.WRITE, scopes=frozenset({Scope.INGESTION})))]
KeyManager = Annotated[Identity, Depends(RequirePermission(Permission.MANAGE_KEYS))]
Admin = Annotated[Identity, Depends(RequirePermission(Permission.MANAGE_USERS))]
# Not about one tenant's data: the engine as a whole, or the caller themself.
EngineReader = Annotated[Identity, Depends(RequirePermission(Permission.READ, scopes=READ_KEY, tenant_scoped=False))]
TenantManager = Annotated[Identity, Depends(RequirePermission(Permission.MANAGE_TENANTS, tenant_scoped=False))]
