"""The JSON ingestion body (CONTRACT.md), decoded by msgspec against a strict schema.

``{"series": [{"service_id", "metric_name", "labels", "points": [[ts, value], ...]}]}``
with timestamps as unix seconds (int or float) or RFC3339 strings. msgspec refuses wrong
types with the exact path (``$.series[3].points[7][1]``).

Work is bounded before it is done: the outer document is decoded with each series'
points and labels left as raw JSON, so the series count and the point count (one ``[``
per point) are checked against the batch limits (413) before a single point becomes a
Python object; then each series' points become one numpy array. Label sets are decoded
as name/value pairs, so a name given twice is refused (400) rather than silently
keeping the last, and text that is not text (a lone UTF-16 surrogate) is refused (400)
naming its field.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import numpy as np

from aiops.errors import BadRequest, PayloadTooLarge, Unprocessable
from aiops.ingest.batch import PointBatch
from aiops.ingest.builder import BatchBuilder, BatchLimits, check_label_set
from aiops.text import lone_surrogate_escapes

_EMPTY_OBJECT = msgspec.Raw(b"{}")
_EMPTY_LIST = msgspec.Raw(b"[]")


class SeriesIn(msgspec.Struct, forbid_unknown_fields=True):
    service_id: str
    metric_name: str
    points: msgspec.Raw = _EMPTY_LIST  # [[ts, value], ...], decoded once the batch is known to be within limits
    labels: msgspec.Raw = _EMPTY_OBJECT  # {name: value}, decoded as pairs (a repeated name is an error)


class IngestBody(msgspec.Struct, forbid_unknown_fields=True):
    series: list[SeriesIn]


_DECODER = msgspec.json.Decoder(IngestBody)
_NUMERIC_POINTS = msgspec.json.Decoder(list[tuple[float, float]])
_ANY_POINTS = msgspec.json.Decoder(list[tuple[float | str, float]])
_SENTINEL = b"\\uffff"  # stands in for a lone surrogate escape while finding its field (same length)


def _rfc3339_ms(text: str, where: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Unprocessable(f"{where}: timestamp {text[:40]!r} is neither unix seconds nor RFC3339") from None
    if moment.tzinfo is None:
        raise Unprocessable(f"{where}: RFC3339 timestamp {text[:40]!r} needs a time zone (Z or +hh:mm)")
    return moment.astimezone(UTC).timestamp()


def _points(raw: msgspec.Raw, position: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One series' points -> (timestamps in ms, values), as arrays."""
    try:
        pairs = np.asarray(_NUMERIC_POINTS.decode(raw), dtype=np.float64).reshape(-1, 2)
        seconds, values = pairs[:, 0], pairs[:, 1]
    except msgspec.ValidationError:  # RFC3339 strings, or a real type error (the typed decode names it)
        try:
            decoded = _ANY_POINTS.decode(raw)
        except msgspec.ValidationError as error:
            raise Unprocessable(str(error).replace("`$", f"`$.series[{position}].points")) from None
        seconds = np.asarray([t if type(t) is not str else _rfc3339_ms(t, f"{where} point[{i}]")
                              for i, (t, _) in enumerate(decoded)], dtype=np.float64)
        values = np.asarray([v for _, v in decoded], dtype=np.float64)
    return np.rint(seconds * 1000.0).astype(np.int64), values


class _Pairs(list):
    """A JSON object decoded as its (name, value) pairs, in order, repeats included."""


def _labels(raw: msgspec.Raw, where: str) -> dict[str, str]:
    if raw is _EMPTY_OBJECT:
        return {}
    try:
        pairs = json.loads(bytes(raw), object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        raise BadRequest(f"{where}: labels are not a JSON object") from None
    if not isinstance(pairs, _Pairs) or any(not isinstance(value, str) for _, value in pairs):
        raise Unprocessable(f"{where}: labels must be an object of strings")
    return check_label_set(where, pairs)


def _name_the_bad_text(body: bytes, spans: list[tuple[int, int]]) -> str:
    """Where in the batch the first lone surrogate escape sits, as a field name."""
    patched = bytearray(body)
    for start, end in spans:
        patched[start:end] = _SENTINEL
    try:
        decoded = _DECODER.decode(bytes(patched))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return f"body (byte {spans[0][0]})"
    for position, series in enumerate(decoded.series):
        for field in ("service_id", "metric_name"):
            if "\uffff" in getattr(series, field):
                return f"series[{position}].{field}"
        if _SENTINEL in bytes(series.labels):
            for name, value in json.loads(bytes(series.labels), object_pairs_hook=_Pairs):
                if "\uffff" in name:
                    return f"series[{position}].labels (a label name)"
                if "\uffff" in str(value):
                    return f"series[{position}].labels.{name}"
            return f"series[{position}].labels"
        if _SENTINEL in bytes(series.points):
            return f"series[{position}].points"
    return f"body (byte {spans[0][0]})"


def decode_json_batch(body: bytes, builder: BatchBuilder, limits: BatchLimits | None = None) -> PointBatch:
    """Body bytes -> validated batch; 400 when not JSON (or not text), 413 over the limits
    (the ``ingest`` settings' defaults when None), 422 naming the first bad point."""
    limits = limits or BatchLimits.of()
    try:
        decoded = _DECODER.decode(body)
    except msgspec.ValidationError as error:
        raise Unprocessable(str(error)) from None
    except msgspec.DecodeError as error:
        spans = lone_surrogate_escapes(body)
        if spans:
            raise BadRequest(f"{_name_the_bad_text(body, spans)}: not text (a lone UTF-16 surrogate such as "
                             "\\ud83d)") from None
        raise BadRequest(f"malformed JSON: {error}") from None
    if len(decoded.series) > limits.max_series:
        raise PayloadTooLarge(f"{len(decoded.series)} series in one batch; at most {limits.max_series}: split it")
    # Every point is one JSON array inside the series' points array (a timestamp string cannot
    # hold "["), so this counts them without decoding any.
    points = sum(max(0, bytes(s.points).count(b"[") - 1) for s in decoded.series)
    if points > limits.max_points:
        raise PayloadTooLarge(f"{points} points in one batch; at most {limits.max_points}: split it")
    for position, series in enumerate(decoded.series):
        where = f"series[{position}] ({series.service_id}/{series.metric_name})"
        timestamps, values = _points(series.points, position, where)
        builder.add(where, series.service_id, series.metric_name, _labels(series.labels, where), timestamps, values)
    return builder.build()
