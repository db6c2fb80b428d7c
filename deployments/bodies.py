"""Reading request bodies safely: size limits before parsing, content types, strict JSON.

Every body is read only after the caller's credentials were checked (see
:mod:`deployments.routing`), refused with 413 as soon as it is known to be over its limit
(the declared ``Content-Length`` first, then the bytes as they arrive), and decoded as
strict JSON: well-formed, UTF-8, real text in every string (no lone surrogates) and no
key given twice in one object, each refusal a 400 naming where.
"""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from aiops.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from aiops.text import decode_json

ModelT = TypeVar("ModelT", bound=BaseModel)


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


def is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def parse_json(body: bytes, model: type[ModelT]) -> ModelT:
    """``model`` from a JSON body: 400 when it is not strict JSON, 422 naming the first problems otherwise."""
    data = decode_json(body)
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
