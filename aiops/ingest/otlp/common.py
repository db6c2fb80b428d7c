"""What traces, logs and metrics share: limits, attribute values as text, ids as hex columns.

Attributes are kept as a bounded ``Map(String, String)``: at most ``max_attributes`` per
item (the first ones sent), keys cut at ``max_attribute_key_chars`` and values at
``max_attribute_value_chars``. Values become text the way OTLP's JSON prints them: strings
as they are, booleans ``true``/``false``, integers and doubles in decimal, bytes in
base64, arrays and key-value lists as compact JSON.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa

from aiops.errors import PayloadTooLarge

SERVICE_NAME = "service.name"
UNKNOWN_SERVICE = "unknown_service"  # what OpenTelemetry SDKs report when service.name is unset
MAX_SERVICE_CHARS = 256  # as a series' service_id


@dataclass(frozen=True)
class OtlpLimits:
    """Bounds applied to every decoded item (from ``otlp.*`` and ``ingest.*`` settings)."""

    earliest_ns: int  # items stamped before this are refused
    latest_ns: int  # ... and after this
    now_ns: int = 0  # when the request arrived (a log record's time when it has none)
    max_attributes: int = 32
    max_attribute_key_chars: int = 128
    max_attribute_value_chars: int = 1024
    max_log_body_chars: int = 4096
    max_items: int = 10_000  # spans, log records or data points in one request (413 past it)

    @classmethod
    def around(cls, now_ns: int, max_past_seconds: int, max_future_seconds: int, **bounds: int) -> OtlpLimits:
        return cls(now_ns - max_past_seconds * 1_000_000_000, now_ns + max_future_seconds * 1_000_000_000, now_ns,
                   **bounds)


def check_items(count: int, limit: int, items: str) -> None:
    """413 when a request holds more than ``limit`` items (counted before any per-item work)."""
    if count > limit:
        raise PayloadTooLarge(f"{count} {items} in one request; at most {limit}: export smaller batches "
                              "(the SDK's max_export_batch_size, the Collector's send_batch_max_size)")


@dataclass
class Rejections:
    """Items refused one by one, by reason: OTLP's ``partial_success``."""

    reasons: Counter = field(default_factory=Counter)

    def add(self, reason: str, count: int = 1) -> None:
        if count:
            self.reasons[reason] += count

    @property
    def count(self) -> int:
        return sum(self.reasons.values())

    def message(self) -> str:
        return "; ".join(f"{count} {reason}" for reason, count in self.reasons.most_common())


def _json_value(value) -> object:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_json_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _json_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    scalar = getattr(value, which)
    return scalar if not isinstance(scalar, float) or math.isfinite(scalar) else str(scalar)


def value_text(value, limit: int) -> str:
    """An ``AnyValue`` as text, at most ``limit`` characters."""
    which = value.WhichOneof("value")
    if which == "string_value":
        text = value.string_value
    elif which is None:
        return ""
    elif which == "bool_value":
        text = "true" if value.bool_value else "false"
    elif which == "int_value":
        text = str(value.int_value)
    elif which == "double_value":
        text = repr(value.double_value)
    else:
        try:
            text = orjson.dumps(_json_value(value)).decode()
        except (TypeError, RecursionError, orjson.JSONEncodeError):
            text = ""
    return text if len(text) <= limit else text[:limit]


def service_of(resource_attributes) -> str:
    """``service.name`` from a resource's attributes (``unknown_service`` when unset)."""
    for kv in resource_attributes:
        if kv.key == SERVICE_NAME:
            name = value_text(kv.value, MAX_SERVICE_CHARS + 1).strip()
            return name or UNKNOWN_SERVICE
    return UNKNOWN_SERVICE


class AttributeColumns:
    """Attribute maps of many items, kept flat (keys, values, offsets) until made one Arrow column."""

    def __init__(self, limits: OtlpLimits) -> None:
        self._limits = limits
        self.keys: list[str] = []
        self.values: list[str] = []
        self.offsets: list[int] = [0]

    def add(self, attributes) -> None:
        limits = self._limits
        key_chars, value_chars, most = limits.max_attribute_key_chars, limits.max_attribute_value_chars, \
            limits.max_attributes
        keys, values = self.keys, self.values
        taken = 0
        for kv in attributes:
            if taken == most:
                break
            value = kv.value
            keys.append(kv.key[:key_chars])
            # Strings are the common case: no call for them.
            values.append(value.string_value[:value_chars] if value.WhichOneof("value") == "string_value"
                          else value_text(value, value_chars))
            taken += 1
        self.offsets.append(len(keys))

    def column(self, keep: np.ndarray | None = None) -> pa.Array:
        """The maps as one ``map<string, string>`` column (only rows where ``keep`` is true)."""
        offsets = pa.array(np.asarray(self.offsets, np.int32))
        column = pa.MapArray.from_arrays(offsets, pa.array(self.keys, pa.string()), pa.array(self.values, pa.string()))
        return column if keep is None else column.filter(pa.array(keep))


def hex_column(ids: list[bytes]) -> pa.Array:
    """Binary ids as lower-case hex strings, without a Python call per id."""
    lengths = np.fromiter((len(i) for i in ids), np.int32, len(ids))
    offsets = np.zeros(len(ids) + 1, np.int32)
    np.cumsum(lengths * 2, out=offsets[1:])
    data = binascii.hexlify(b"".join(ids))
    return pa.StringArray.from_buffers(len(ids), pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def id_lengths_ok(ids: list[bytes], allowed: tuple[int, ...]) -> np.ndarray:
    """Per id: its length is one of ``allowed`` and (when not empty) it is not all zero bytes."""
    lengths = np.fromiter((len(i) for i in ids), np.int32, len(ids))
    ok = np.isin(lengths, allowed)
    nonzero = np.fromiter((i.count(0) < len(i) for i in ids), bool, len(ids)) | (lengths == 0)
    return ok & nonzero
