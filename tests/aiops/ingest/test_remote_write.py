"""remote_write negotiation, what is skipped and why, and the batch limits checked before any per-item work."""

from __future__ import annotations

import time

import cramjam
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops.errors import PayloadTooLarge, UnsupportedMediaType
from aiops.ingest.builder import BatchBuilder, BatchLimits
from aiops.ingest.remote_write import check_content_type, decode_remote_write, write_request_class
from tests.properties import PROPERTY

NOW_MS = int(time.time() * 1000)
V2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"


def builder() -> BatchBuilder:
    return BatchBuilder(now_ms=NOW_MS, max_past_seconds=3600, max_future_seconds=300)


def body(*series) -> bytes:
    request = write_request_class()()
    for labels, samples, histograms, exemplars in series:
        timeseries = request.timeseries.add()
        for name, value in labels.items():
            timeseries.labels.add(name=name.encode(), value=value.encode())
        for at, value in samples:
            timeseries.samples.add(timestamp=at, value=value)
        timeseries.histograms.extend([b"\x08\x01"] * histograms)  # opaque to this engine: counted only
        timeseries.exemplars.extend([b"\x10\x01"] * exemplars)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def test_remote_write_2_is_415_so_the_sender_falls_back() -> None:
    with pytest.raises(UnsupportedMediaType, match="send 1.0"):
        check_content_type(V2)


def test_a_series_with_only_native_histograms_is_counted_not_lost() -> None:
    result = decode_remote_write(body(({"__name__": "latency", "job": "api"}, [], 3, 0)), builder())
    assert result.batch is None and result.skipped == {"native_histogram": 3}


def test_skipped_samples_are_counted_by_reason() -> None:
    samples = [(NOW_MS, 1.0), (NOW_MS - 1, float("nan")), (NOW_MS - 2, 1e300), (NOW_MS - 3, -float("inf"))]
    result = decode_remote_write(body(({"__name__": "m", "job": "api"}, samples, 1, 2)), builder())
    assert result.batch.points == 1
    assert result.skipped == {"non_finite": 2, "out_of_range": 1, "native_histogram": 1, "exemplar": 2}


def test_series_and_sample_limits_are_checked_before_decoding_samples() -> None:
    many = body(*[({"__name__": "m", "job": f"j{i}"}, [(NOW_MS, 1.0)], 0, 0) for i in range(11)])
    with pytest.raises(PayloadTooLarge, match="11 series"):
        decode_remote_write(many, builder(), BatchLimits(max_series=10, max_points=100, max_decompressed_bytes=2**20))
    long = body(({"__name__": "m", "job": "j"}, [(NOW_MS - i, 1.0) for i in range(101)], 0, 0))
    with pytest.raises(PayloadTooLarge, match="101 samples"):
        decode_remote_write(long, builder(), BatchLimits(max_series=10, max_points=100, max_decompressed_bytes=2**20))
    with pytest.raises(PayloadTooLarge, match="claims to inflate"):
        decode_remote_write(long, builder(), BatchLimits(max_series=10, max_points=1000, max_decompressed_bytes=100))


@pytest.mark.reliability(
    fault="Content-Type variants of remote_write: casing, spacing, quoting, other proto messages (Hypothesis)",
    promise="1.0 accepted; 2.0 and any other proto 415 (so the sender falls back); other media types 415",
    kind="7 protocol negotiation",
)
def test_content_type_negotiation(record_property) -> None:
    outcomes = {"accepted": 0, "415": 0}

    @PROPERTY
    @given(media=st.sampled_from(["application/x-protobuf", "APPLICATION/X-Protobuf", "application/json",
                                  "application/protobuf", "text/plain"]),
           proto=st.none() | st.sampled_from(["prometheus.WriteRequest", "io.prometheus.write.v2.Request",
                                              '"prometheus.WriteRequest"', "io.prometheus.write.v3.Request"])
           | st.text(st.characters(exclude_characters=";=,"), max_size=12),
           spaces=st.sampled_from(["", " ", "  "]), extra=st.booleans())
    def negotiate(media: str, proto: str | None, spaces: str, extra: bool) -> None:
        header = media + (f";{spaces}proto={proto}" if proto is not None else "") + ("; charset=x" if extra else "")
        v1 = media.lower() == "application/x-protobuf" and (
            proto is None or proto.strip().strip('"') == "prometheus.WriteRequest")
        try:
            check_content_type(header)
        except UnsupportedMediaType:
            assert not v1, header
            outcomes["415"] += 1
            return
        assert v1, header
        outcomes["accepted"] += 1

    negotiate()
    record_property("measured", f"{sum(outcomes.values())} Content-Type headers: {outcomes['accepted']} 1.0 "
                                f"accepted, {outcomes['415']} others 415")
