"""Credentials first, then the body: the route class of every REST router.

FastAPI reads and parses a route's JSON body before it solves the route's dependencies,
so an unauthenticated caller could make a replica read and parse a body as large as it
likes before its 401. :class:`AuthorizedRoute` runs the route's auth rule (its one
:class:`~deployments.deps.RequirePermission`) before anything of the body is read, then
reads the body within ``serve.max_body_bytes`` (413 before parsing) and decodes it as
strict JSON (:func:`aiops.text.decode_json`); FastAPI then validates what was
decoded. Routes that read their own bodies (ingestion) get the same auth-first step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from aiops.schemas.common import ErrorResponse
from aiops.text import decode_json
from deployments.bodies import is_json, read_body
from deployments.deps import RequirePermission, authenticate

BODY_ERRORS = {
    400: {"model": ErrorResponse, "description": "Malformed body (not JSON, not text, a key twice)"},
    413: {"model": ErrorResponse, "description": "Body too large"},
}


class AuthorizedRoute(APIRoute):
    """An API route that checks credentials and permission before it reads a byte of the body."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        rules = [d.call for d in self.dependant.dependencies if isinstance(d.call, RequirePermission)]
        self.rule: RequirePermission | None = rules[0] if rules else None
        if self.body_field is not None:  # every body route can answer these, so the document says so
            for status, response in BODY_ERRORS.items():
                self.responses.setdefault(status, response)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        has_body = self.body_field is not None

        async def authorized_first(request: Request) -> Response:
            context = request.app.state.context
            if self.rule is not None:
                await self.rule(await authenticate(request, context), context)
            if has_body:
                body = await read_body(request, context.settings.serve.max_body_bytes)
                # FastAPI reads the body through these (Starlette's Request caches them there).
                request._body = body
                if body and is_json(request):  # up to serve.max_body_bytes: parsed off the event loop
                    request._json = await asyncio.to_thread(decode_json, body)
            return await handler(request)

        return authorized_first
