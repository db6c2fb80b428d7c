"""Malformed label sets, in both ingestion formats: refused whole with 400 naming the series and label."""

from __future__ import annotations

import json
import time

import cramjam
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops.errors import BadRequest, Unprocessable
from aiops.ingest.builder import BatchBuilder
from aiops.ingest.json_format import decode_json_batch
from aiops.ingest.remote_write import decode_remote_write, write_request_class
from tests.properties import PROPERTY

NOW_MS = int(time.time() * 1000)


def builder() -> BatchBuilder:
    return BatchBuilder(now_ms=NOW_MS, max_past_seconds=3600, max_future_seconds=300)


def remote_write(pairs: list[tuple[bytes, bytes]]) -> bytes:
    request = write_request_class()()
    series = request.timeseries.add()
    for name, value in pairs:
        series.labels.add(name=name, value=value)
    series.samples.add(timestamp=NOW_MS, value=1.0)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def json_body(pairs: list[tuple[str, str]]) -> bytes:
    labels = "{" + ", ".join(f"{json.dumps(n)}: {json.dumps(v)}" for n, v in pairs) + "}"
    return (f'{{"series": [{{"service_id": "api", "metric_name": "cpu", "labels": {labels}, '
            f'"points": [[{NOW_MS / 1000}, 1.0]]}}]}}').encode()


def test_the_reported_duplicate_label_is_refused_naming_series_and_label() -> None:
    body = remote_write([(b"__name__", b"x"), (b"job", b"a"), (b"az", b"1"), (b"az", b"2")])
    with pytest.raises(BadRequest) as refused:
        decode_remote_write(body, builder())
    assert "timeseries[0]" in refused.value.message and "'az' appears more than once" in refused.value.message
    assert "job='a'" in refused.value.message  # the series, as it was sent


@pytest.mark.parametrize(("pairs", "words"), [
    ([(b"__name__", b"x"), (b"job", b"a"), (b"", b"v")], "empty name"),
    ([(b"__name__", b"x"), (b"job", b"a"), (b"z\xff", b"v")], "a label name is not UTF-8"),
    ([(b"__name__", b"x"), (b"job", b"\xc3\x28")], "label 'job' is not UTF-8"),
    ([(b"job", b"a")], "no __name__ label"),
])
def test_every_malformed_remote_write_label_set_is_400(pairs, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        decode_remote_write(remote_write(pairs), builder())


def test_unsorted_labels_are_fine_as_prometheus_sorts_them_itself() -> None:
    result = decode_remote_write(remote_write([(b"zone", b"z"), (b"job", b"a"), (b"__name__", b"x")]), builder())
    assert result.batch.labels == [{"zone": "z", "job": "a"}]


def test_json_labels_named_twice_are_refused_not_last_one_wins() -> None:
    with pytest.raises(BadRequest, match=r"series\[0\] \(api/cpu\): label 'az' appears more than once"):
        decode_json_batch(json_body([("az", "1"), ("az", "2")]), builder())
    with pytest.raises(BadRequest, match="empty name"):
        decode_json_batch(json_body([("", "1")]), builder())


# Hypothesis: label sets that may repeat a name, hold an empty one, or (remote_write) bytes
# that are not UTF-8; the decoders must refuse exactly the malformed ones, with a 400 naming
# the label, and keep every other one exactly.
names = st.sampled_from(["job", "az", "pod", "", "é", "__meta"]) | st.text(min_size=0, max_size=6)
values = st.text(max_size=8)


@pytest.mark.reliability(
    fault="label sets that repeat a name, have an empty name or are not UTF-8, in both formats (Hypothesis)",
    promise="exactly the malformed ones refused, 400 naming the series and the label; the rest kept as sent",
    kind="6 label sets",
)
def test_label_sets_are_kept_exactly_or_refused_by_name(record_property) -> None:
    seen = {"refused": 0, "kept": 0}

    @PROPERTY
    @given(pairs=st.lists(st.tuples(names, values), max_size=8), broken=st.booleans())
    def check(pairs: list[tuple[str, str]], broken: bool) -> None:
        pairs = [(n, v) for n, v in pairs if n not in ("job", "__name__")]
        raw = [(b"__name__", b"m"), (b"job", b"svc")] + [(n.encode(), v.encode()) for n, v in pairs]
        if broken and pairs:
            raw[-1] = (raw[-1][0], raw[-1][1] + b"\xff")  # not UTF-8
        names_sent = [n for n, _ in pairs]
        malformed = "" in names_sent or len(set(names_sent)) != len(names_sent) or (broken and bool(pairs))
        for decode, body in ((decode_remote_write, remote_write(raw)),
                             (decode_json_batch, None if broken else json_body([("job", "svc"), *pairs]))):
            if body is None:
                continue
            try:
                result = decode(body, builder())
            except BadRequest as error:
                assert malformed, error.message
                assert "timeseries[0]" in error.message or "series[0]" in error.message
                assert "label" in error.message
                seen["refused"] += 1
                continue
            except Unprocessable as error:  # sizes: not a malformed set
                assert "characters" in error.message or "labels" in error.message
                continue
            assert not malformed
            batch = result if decode is decode_json_batch else result.batch
            assert batch.labels[0] == {"job": "svc", **dict(pairs)}
            seen["kept"] += 1

    check()
    record_property("measured", f"{seen['refused']} malformed sets refused with 400 naming series and label, "
                                f"{seen['kept']} well-formed sets kept exactly (remote_write and JSON)")


@pytest.mark.parametrize(("offset_s", "when", "setting"), [(-7200, "too old", "3600 s ago (ingest.max_past_seconds)"),
                                                           (3600, "too far in the future",
                                                            "300 s ahead (ingest.max_future_seconds)")])
def test_a_point_outside_the_window_names_the_window_and_its_settings(offset_s: int, when: str,
                                                                      setting: str) -> None:
    batch = builder()
    batch.add("series[0] (api/cpu)", "api", "cpu", {}, np.array([NOW_MS + offset_s * 1000], dtype=np.int64),
              np.array([1.0]))
    with pytest.raises(Unprocessable) as refused:
        batch.build()
    assert f"point[0]: timestamp is {when}" in str(refused.value) and setting in str(refused.value)
