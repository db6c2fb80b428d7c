"""OTLP/HTTP encodings: request bodies in, ``Export*ServiceResponse`` and ``Status`` out.

Binary protobuf (``application/x-protobuf``) is parsed by the message classes of
``opentelemetry-proto``. OTLP's JSON (``application/json``) is protobuf's JSON mapping with
the differences the specification makes: trace and span ids are hex strings (not base64),
keys are lowerCamelCase (original field names are accepted too), enums are integers,
64-bit integers may be strings or numbers, and unknown fields are ignored. The body is
read as the engine's strict JSON (:func:`aiops.text.decode_json`: UTF-8, real text in
every string, no key twice in one object; a 400 naming where otherwise), its items
(spans, log records, data points) are counted against ``max_items`` before any per-item
work, ids are rewritten to what ``google.protobuf.json_format`` expects, and
``json_format`` fills the message.

Errors answer with ``google.rpc.Status`` in the request's encoding, as OTLP/HTTP requires.
"""

from __future__ import annotations

import base64
from enum import Enum

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2, status_pb2

from aiops.errors import BadRequest, UnsupportedMediaType
from aiops.ingest.otlp.common import check_items
from aiops.text import decode_json


class Encoding(Enum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"

    @property
    def media_type(self) -> str:
        return self.value


def encoding_of(content_type: str | None) -> Encoding:
    """The request's encoding from its ``Content-Type``; 415 for anything else."""
    media = (content_type or "").split(";")[0].strip().lower()
    for encoding in Encoding:
        if media == encoding.value:
            return encoding
    raise UnsupportedMediaType(
        f"Content-Type must be application/x-protobuf or application/json, not {media or 'missing'}")


# Fields that carry trace or span ids as bytes: hex in OTLP JSON, base64 in protobuf's JSON.
_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


def _hex_ids_to_base64(document: object) -> None:
    """Rewrite every id field of ``document`` in place (an explicit stack: no recursion limit)."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _ID_FIELDS and isinstance(value, str):
                    try:
                        node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                    except ValueError:
                        raise BadRequest(f"{key} {value[:40]!r} is not a hex string (OTLP JSON ids are hex)") from None
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(item for item in node if isinstance(item, dict | list))


# Where each request's items sit in OTLP JSON (each step: its names, camelCase and original;
# DATA: whichever data field a metric has), and what they are called.
_DATA = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary")
_ITEMS = {
    "ExportTraceServiceRequest": ("spans", (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"),
                                            ("spans",))),
    "ExportLogsServiceRequest": ("log records", (("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"),
                                                 ("logRecords", "log_records"))),
    "ExportMetricsServiceRequest": ("data points", (("resourceMetrics", "resource_metrics"),
                                                    ("scopeMetrics", "scope_metrics"), ("metrics",), _DATA,
                                                    ("dataPoints", "data_points"))),
}


def json_items(document: dict, path: tuple[tuple[str, ...], ...]) -> int:
    """How many items ``path`` reaches in a decoded OTLP JSON document (one step per level;
    what is not a list or an object is left for ``json_format`` to refuse)."""
    nodes: list = [document]
    for names in path:
        below: list = []
        for node in nodes:
            if not isinstance(node, dict):
                continue
            for name in names:
                child = node.get(name)
                if isinstance(child, list):
                    below.extend(child)
                elif isinstance(child, dict):
                    below.append(child)
        nodes = below
    return len(nodes)


def parse_request(body: bytes, encoding: Encoding, message_class: type[Message],
                  max_items: int | None = None) -> Message:
    """``body`` as a ``message_class`` (an ``Export*ServiceRequest``); 400 when malformed, 413
    when a JSON body holds more than ``max_items`` items (a protobuf body's are counted by
    the decoders, right after this cheap parse)."""
    message = message_class()
    name = message_class.DESCRIPTOR.name
    if encoding is Encoding.PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError) as error:
            raise BadRequest(f"body is not a protobuf {name}: {error}") from None
        return message
    document = decode_json(body)
    if not isinstance(document, dict):
        raise BadRequest(f"body must be a JSON object ({name})")
    if max_items is not None and name in _ITEMS:
        items, path = _ITEMS[name]
        check_items(json_items(document, path), max_items, items)
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, ValueError, TypeError) as error:
        raise BadRequest(f"body is not an OTLP JSON {name}: {str(error)[:300]}") from None
    return message


def serialize(message: Message, encoding: Encoding) -> bytes:
    """A response message in the request's encoding."""
    if encoding is Encoding.PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()


_GRPC_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    404: code_pb2.NOT_FOUND,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    422: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}


def status_body(http_status: int, message: str, encoding: Encoding) -> bytes:
    """The ``google.rpc.Status`` OTLP/HTTP answers a 4xx or 5xx with."""
    status = status_pb2.Status(code=_GRPC_CODES.get(http_status, code_pb2.INTERNAL), message=message)
    return serialize(status, encoding)
