"""Reading request bodies safely: size limits before parsing, content types, JSON."""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from aiops.errors import BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def require_content_type(request: Request, *accepted: str) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in accepted:
        raise UnsupportedMediaType(f"Content-Type must be {' or '.join(accepted)}, not {content_type or 'missing'}")


def parse_json(body: bytes, model: type[BaseModel]) -> BaseModel:
    """``model`` from a JSON body: 400 when it is not JSON, 422 naming the first problems otherwise."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise BadRequest(f"body is not valid JSON: {error}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()[:5])
        raise Unprocessable(problems) from None


class ReferenceJSONResponse(JSONResponse):
    """JSON laid out as the published reference prints it (``{"status": "ok", ...}``), so answers
    the reference fixes "to the byte" match it byte for byte."""

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=False).encode()
