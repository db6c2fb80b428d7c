"""OTLP/HTTP receivers at the protocol's standard paths: ``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs``.

An OpenTelemetry SDK or Collector exporting over OTLP/HTTP to ``http://engine:8080`` works
unchanged. Bodies are ``application/x-protobuf`` or ``application/json`` (OTLP's JSON
mapping), optionally ``Content-Encoding: gzip``. Auth as the other ingestion routes (an
``ingestion`` key as Bearer or ``X-API-Key``, or a JWT with ``write``).

Answers follow the OTLP/HTTP specification: 200 with the ``Export*ServiceResponse`` in
the request's encoding, with ``partial_success`` (how many items were refused and why)
when some were; every error as a ``google.rpc.Status`` in the request's encoding (JSON
when the encoding is unknown), never with internals: 400 malformed (nothing stored), 413
over the size or item limits (before decompressing, or before decoding items), 415 another
content type or encoding, 429 and 503 with ``Retry-After`` when the sender should retry.
A retried request is stored once.

The engine's hardening rules hold here as on every route (:class:`OtlpRoute` is
:class:`~deployments.routing.AuthorizedRoute` answering in OTLP's shape; the limits are in
:mod:`deployments.telemetry`; data points are validated as any metric batch, see
:mod:`aiops.ingest.otlp.metrics`). One difference, by OTLP's design: a data point that
would change a stored point is refused alone in ``partial_success`` (first write wins),
where the other ingestion paths refuse the batch with 409.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from aiops.errors import ApiError, Unavailable
from aiops.ingest.builder import BatchBuilder
from aiops.ingest.otlp.common import Rejections
from aiops.ingest.otlp.logs import decode_logs
from aiops.ingest.otlp.metrics import decode_metrics
from aiops.ingest.otlp.traces import decode_spans
from aiops.ingest.otlp.wire import Encoding, encoding_of, parse_request, serialize, status_body
from aiops.logs import REQUEST_ID
from aiops.storage.client import StorageUnavailable
from deployments.deps import Ctx, Ingester
from deployments.routing import AuthorizedRoute
from deployments.telemetry import batch_digest

log = logging.getLogger(__name__)


def _error_encoding(request: Request) -> Encoding:
    try:
        return encoding_of(request.headers.get("content-type"))
    except ApiError:
        return Encoding.JSON


def status_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    encoding = _error_encoding(request)
    return Response(status_body(status, message, encoding), status_code=status, media_type=encoding.media_type,
                    headers=headers)


class OtlpRoute(AuthorizedRoute):
    """:class:`AuthorizedRoute`'s order (credentials and permission before a byte of the body is
    read), but every error of these routes, the auth refusals included, answers as OTLP's
    ``google.rpc.Status`` in the request's encoding, as OTLP/HTTP requires, instead of the
    engine's JSON shape. The handlers read their own bodies (within ``otlp.max_body_bytes``:
    413 before decompressing), so there is no body for the route class to read."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def otlp_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                return status_response(request, error.status, error.message, error.headers)
            except StorageUnavailable as error:
                log.warning("storage unavailable: %s", error)
                retry = Unavailable("storage is unavailable, retry shortly", retry_after=2)
                return status_response(request, retry.status, retry.message, retry.headers)
            except Exception:
                # As the engine's other routes: details to the log under the request id, never the answer.
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                return status_response(request, 500, f"internal error (request id {REQUEST_ID.get() or 'unknown'})")

        return otlp_handler


router = APIRouter(prefix="/v1", tags=["otlp"], route_class=OtlpRoute)

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_STATUS = {"schema": {"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                                                       "details": {"type": "array"}}}}
_ERRORS = {
    400: "Malformed body (nothing stored)",
    401: "Missing or invalid credentials",
    403: "Not allowed",
    404: "The caller's tenant does not exist",
    413: "Body over otlp.max_body_bytes, inflating past otlp.max_decompressed_bytes (JSON: otlp.max_json_bytes), "
         "or holding more items than otlp.max_items_per_request or the plan's burst",
    415: "Content-Type other than application/x-protobuf or application/json, or an unknown Content-Encoding",
    422: "Invalid data points",
    429: "Rate limited (see Retry-After)",
    503: "Overloaded or storage unavailable (see Retry-After)",
}


def _documented(items: str) -> dict:
    """OpenAPI for one receiver: both encodings in and out, and its Status errors."""
    count = {"type": ["string", "integer"], "description": f"{items} refused (int64: a string in JSON)"}
    success = {"type": "object", "properties": {"partialSuccess": {"type": "object", "properties": {
        f"rejected{items[0].upper()}{items[1:]}": count, "errorMessage": {"type": "string"}}}}}
    responses: dict = {200: {"description": f"Export{items} response (partial_success when some were refused)",
                             "content": {Encoding.PROTOBUF.value: _BINARY, Encoding.JSON.value: {"schema": success}}}}
    for code, text in _ERRORS.items():
        headers = ({"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
                   if code in (429, 503) else None)
        responses[code] = {"description": text + " (a google.rpc.Status)",
                           "content": {Encoding.JSON.value: _STATUS, Encoding.PROTOBUF.value: _BINARY},
                           **({"headers": headers} if headers else {})}
    body = {"required": True, "content": {Encoding.PROTOBUF.value: _BINARY,
                                          Encoding.JSON.value: {"schema": {"type": "object"}}}}
    return {"responses": responses, "openapi_extra": {"requestBody": body}, "response_class": Response}


def _reply(message, encoding: Encoding) -> Response:
    return Response(serialize(message, encoding), media_type=encoding.media_type)


def _partial(response, field: str, rejections: Rejections, warning: str = "") -> None:
    """``partial_success``: how many items were refused and why; a warning alone (nothing
    refused) leaves the count at 0, as the specification allows."""
    if rejections.count:
        setattr(response.partial_success, field, rejections.count)
    message = "; ".join(part for part in (rejections.message(), warning) if part)
    if message:
        response.partial_success.error_message = message


@router.post("/traces", **_documented("spans"))
async def export_traces(request: Request, identity: Ingester, context: Ctx) -> Response:
    """OTLP/HTTP traces: spans stored once per (trace id, span id), read back under ``/api/v1/traces``."""
    encoding = encoding_of(request.headers.get("content-type"))
    intake = context.telemetry
    body = await intake.read(request, json=encoding is Encoding.JSON)
    limits = await intake.limits(identity.tenant_id)
    decoded = await intake.off_loop(len(body), lambda: decode_spans(
        parse_request(body, encoding, ExportTraceServiceRequest, limits.max_items), limits))
    rejections, stored = decoded.rejections, 0
    if decoded.spans is not None:
        outcome = await intake.store("spans", identity.tenant_id, decoded.spans,
                                     batch_digest("spans", identity.tenant_id, body))
        rejections.add(outcome.reason, outcome.rejected)
        stored = outcome.stored
    intake.count("spans", stored, rejections.count)
    response = ExportTraceServiceResponse()
    _partial(response, "rejected_spans", rejections)
    return _reply(response, encoding)


@router.post("/logs", **_documented("logRecords"))
async def export_logs(request: Request, identity: Ingester, context: Ctx) -> Response:
    """OTLP/HTTP logs: records stored once, read back (with their templates) under ``/api/v1/logs``."""
    encoding = encoding_of(request.headers.get("content-type"))
    intake = context.telemetry
    body = await intake.read(request, json=encoding is Encoding.JSON)
    limits = await intake.limits(identity.tenant_id)
    decoded = await intake.off_loop(len(body), lambda: decode_logs(
        parse_request(body, encoding, ExportLogsServiceRequest, limits.max_items), limits))
    if decoded.logs is not None:
        await intake.store("logs", identity.tenant_id, decoded.logs, batch_digest("logs", identity.tenant_id, body))
    intake.count("logs", decoded.count, decoded.rejections.count)
    response = ExportLogsServiceResponse()
    _partial(response, "rejected_log_records", decoded.rejections)
    return _reply(response, encoding)


@router.post("/metrics", **_documented("dataPoints"))
async def export_metrics(request: Request, identity: Ingester, context: Ctx) -> Response:
    """OTLP/HTTP metrics: data points become ordinary series (``GET /api/v1/series``).

    A stored point is never changed (first write wins, as on every ingestion path). Where
    JSON and remote_write batches that would change one are refused whole with 409, here
    only those points are refused, in ``partial_success`` naming the first, and the rest is
    stored: OTLP/HTTP defines partial success for exactly this, and its exporters drop a
    request answered with a non-retryable 4xx whole, the good points with the bad."""
    encoding = encoding_of(request.headers.get("content-type"))
    intake = context.telemetry
    body = await intake.read(request, json=encoding is Encoding.JSON)
    limits = await intake.limits(identity.tenant_id)
    batch_limits = await intake.batch_limits(identity.tenant_id)
    ingest = context.settings.ingest
    builder = BatchBuilder(now_ms=limits.now_ns // 1_000_000, max_past_seconds=ingest.max_past_seconds,
                           max_future_seconds=ingest.max_future_seconds)
    decoded = await intake.off_loop(len(body), lambda: decode_metrics(
        parse_request(body, encoding, ExportMetricsServiceRequest, limits.max_items), limits, builder, batch_limits))
    rejections, accepted, warning = decoded.rejections, 0, ""
    if decoded.skipped:
        context.metrics.ingest_skipped.labels("no_recorded_value").inc(decoded.skipped)
        warning = f"{decoded.skipped} data points flagged 'no recorded value' skipped (not refused)"
    if decoded.batch is not None:
        result = await context.ingest.accept(identity.tenant_id, decoded.batch, "otlp", keep_stored=True)
        accepted = result.points
        rejections.add(f"points that would change a stored point, which keeps its first value (the first: "
                       f"{result.change})", result.changed)
    intake.count("metrics", accepted, rejections.count)
    response = ExportMetricsServiceResponse()
    _partial(response, "rejected_data_points", rejections, warning)
    return _reply(response, encoding)
