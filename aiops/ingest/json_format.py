"""The JSON ingestion body (CONTRACT.md), decoded by msgspec against a strict schema.

``{"series": [{"service_id", "metric_name", "labels", "points": [[ts, value], ...]}]}``
with timestamps as unix seconds (int or float) or RFC3339 strings. msgspec refuses wrong
types with the exact path (``$.series[3].points[7][1]``); numbers become numpy arrays in
one step per series.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import numpy as np

from aiops.errors import BadRequest, Unprocessable
from aiops.ingest.batch import PointBatch
from aiops.ingest.builder import BatchBuilder


class SeriesIn(msgspec.Struct, forbid_unknown_fields=True):
    service_id: str
    metric_name: str
    points: list[tuple[float | str, float]]
    labels: dict[str, str] = {}


class IngestBody(msgspec.Struct, forbid_unknown_fields=True):
    series: list[SeriesIn]


_DECODER = msgspec.json.Decoder(IngestBody)


def _rfc3339_ms(text: str, where: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Unprocessable(f"{where}: timestamp {text[:40]!r} is neither unix seconds nor RFC3339") from None
    if moment.tzinfo is None:
        raise Unprocessable(f"{where}: RFC3339 timestamp {text[:40]!r} needs a time zone (Z or +hh:mm)")
    return moment.astimezone(UTC).timestamp()


def _timestamps_ms(raw: tuple, where: str) -> np.ndarray:
    if str in map(type, raw):
        seconds = [value if type(value) is not str else _rfc3339_ms(value, f"{where} point[{i}]")
                   for i, value in enumerate(raw)]
    else:
        seconds = raw
    return np.rint(np.asarray(seconds, dtype=np.float64) * 1000.0).astype(np.int64)


def decode_json_batch(body: bytes, builder: BatchBuilder) -> PointBatch:
    """Body bytes -> validated batch; 400 when not JSON, 422 naming the first bad point."""
    try:
        decoded = _DECODER.decode(body)
    except msgspec.ValidationError as error:
        raise Unprocessable(str(error)) from None
    except msgspec.DecodeError as error:
        raise BadRequest(f"malformed JSON: {error}") from None
    for position, series in enumerate(decoded.series):
        where = f"series[{position}] ({series.service_id}/{series.metric_name})"
        if series.points:
            raw_ts, raw_values = zip(*series.points, strict=True)
            values = np.asarray(raw_values, dtype=np.float64)
            timestamps = _timestamps_ms(raw_ts, where)
        else:
            values, timestamps = np.empty(0), np.empty(0, np.int64)
        builder.add(where, series.service_id, series.metric_name, series.labels, timestamps, values)
    return builder.build()
