"""Request dependencies, so a handler signature reads like a sentence.

``Ctx`` is the replica's :class:`ApiContext`; ``CurrentIdentity`` is whoever the bearer
token proves; ``Reader`` / ``Writer`` / ... are identities already checked for one
permission. Every authenticated route declares exactly one of them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aiops.auth.roles import Permission
from aiops.auth.tokens import Identity
from aiops.errors import Forbidden, Unauthorized
from deployments.context import ApiContext


def get_context(request: Request) -> ApiContext:
    return request.app.state.context


Ctx = Annotated[ApiContext, Depends(get_context)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthorized("missing Authorization header")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return token.strip()


async def authenticate(request: Request, context: Ctx) -> Identity:
    return context.verifier.verify(bearer_token(request))


CurrentIdentity = Annotated[Identity, Depends(authenticate)]


class RequirePermission:
    """A dependency that admits identities whose role grants ``permission``.

    A class (not a closure) so tests can find which permission each route requires.
    """

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, identity: CurrentIdentity) -> Identity:
        if not identity.role.allows(self.permission):
            raise Forbidden(f"role {identity.role.value} lacks the {self.permission.value} permission")
        return identity


Reader = Annotated[Identity, Depends(RequirePermission(Permission.READ))]
Writer = Annotated[Identity, Depends(RequirePermission(Permission.WRITE))]
KeyManager = Annotated[Identity, Depends(RequirePermission(Permission.MANAGE_KEYS))]
TenantManager = Annotated[Identity, Depends(RequirePermission(Permission.MANAGE_TENANTS))]
