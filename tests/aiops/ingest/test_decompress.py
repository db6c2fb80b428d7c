"""Bounded decompression: the claimed size is checked before allocating, the actual size while inflating."""

from __future__ import annotations

import gzip
import resource
import time
import tracemalloc
import zlib

import cramjam
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from aiops.ingest import decompress as module
from aiops.ingest.decompress import decompress, snappy_claimed_length
from tests.properties import PROPERTY

LIMIT = 64 * 1024


def zeros_gzip(size: int) -> bytes:
    """``size`` bytes of zeros (a whole number of MiB) gzip-compressed, without holding them uncompressed."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(deflate.compress(b"\0" * (1 << 20)) for _ in range(size >> 20)) + deflate.flush()


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def test_doctests() -> None:
    import doctest

    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 2**21, 2**32 - 1])
def test_the_snappy_header_is_read_as_its_varint(size: int) -> None:
    assert snappy_claimed_length(varint(size) + b"\x00") == size


def test_a_snappy_bomb_is_refused_before_it_is_inflated() -> None:
    bomb = bytes(cramjam.snappy.compress_raw(b"\0" * (256 * 2**20)))  # 12 kB that claim 256 MiB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match="claims to inflate to 268435456 bytes"):
        decompress(bomb, "snappy", limit=32 * 2**20)
    assert time.perf_counter() - began < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 10 * 1024  # KiB: nothing was allocated


def test_a_snappy_body_that_lies_about_its_size_is_400() -> None:
    real = bytes(cramjam.snappy.compress_raw(b"metrics" * 1000))
    lying = varint(10) + real[len(varint(7000)):]  # claims 10 bytes, carries 7000
    with pytest.raises(BadRequest, match="does not match its header"):
        decompress(lying, "snappy", limit=LIMIT)


def test_a_gzip_bomb_stops_at_the_limit_whatever_it_claims() -> None:
    bomb = gzip.compress(b"\0" * (64 * 2**20))
    honest_claim = bomb
    lying_claim = bomb[:-4] + (100).to_bytes(4, "little")  # the trailer says 100 bytes
    with pytest.raises(PayloadTooLarge, match="claims"):
        decompress(honest_claim, "gzip", limit=LIMIT)
    began = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match="inflates to more than"):
        decompress(lying_claim, "gzip", limit=LIMIT)
    assert time.perf_counter() - began < 0.5  # stopped early, not after inflating 64 MiB


def test_gzip_members_share_the_limit() -> None:
    body = gzip.compress(b"a" * 100) + gzip.compress(b"b" * 50)
    assert decompress(body, "gzip", limit=150) == b"a" * 100 + b"b" * 50
    with pytest.raises(PayloadTooLarge):
        decompress(body, "gzip", limit=149)
    with pytest.raises(BadRequest):
        decompress(gzip.compress(b"abc" * 100)[:-10], "gzip", limit=LIMIT)


def test_identity_and_unknown_encodings() -> None:
    assert decompress(b"abc", "", limit=3) == b"abc"
    with pytest.raises(PayloadTooLarge):
        decompress(b"abcd", "identity", limit=3)
    with pytest.raises(UnsupportedMediaType):
        decompress(b"abc", "br", limit=3)


@pytest.mark.reliability(
    fault="arbitrary and hostile compressed bodies: lying size headers, truncations, bombs (Hypothesis)",
    promise="never more output than the limit; only 400 or 413 for bad bodies",
    kind="1 work before limits",
)
def test_decompression_never_passes_the_limit(record_property) -> None:
    limit, tried = 2048, []

    @PROPERTY
    @given(encoding=st.sampled_from(["snappy", "gzip"]),
           payload=st.binary(max_size=4096) | st.integers(0, 20_000).map(lambda n: b"\0" * n),
           claimed=st.none() | st.integers(min_value=0, max_value=2**32 - 1),
           mangle=st.none() | st.binary(min_size=1, max_size=64))
    def inflate(encoding: str, payload: bytes, claimed: int | None, mangle: bytes | None) -> None:
        if encoding == "snappy":
            body = bytes(cramjam.snappy.compress_raw(payload))
            if claimed is not None:  # a header that may lie
                body = varint(claimed) + body[len(varint(len(payload))):]
        else:
            body = gzip.compress(payload)
            if claimed is not None:
                body = body[:-4] + claimed.to_bytes(4, "little")
        if mangle is not None:
            body = body[: len(body) // 2] + mangle
        try:
            out = decompress(body, encoding, limit=limit)
        except (BadRequest, PayloadTooLarge) as error:
            tried.append(error.status)
            return
        tried.append(200)
        assert len(out) <= limit
        if mangle is None and claimed is None:
            assert out == payload

    inflate()
    record_property("measured", f"{len(tried)} generated bodies: output never past the {limit}-byte limit; "
                                f"{tried.count(413)} refused 413, {tried.count(400)} refused 400, "
                                f"{tried.count(200)} inflated")


def test_zlib_streams_are_not_mistaken_for_gzip() -> None:
    with pytest.raises(BadRequest):
        decompress(zlib.compress(b"abc"), "gzip", limit=LIMIT)


def test_a_gzip_body_within_the_limit_inflates_whole() -> None:
    data = b"span " * 100_000
    assert decompress(gzip.compress(data), "gzip", limit=len(data)) == data
    assert decompress(gzip.compress(b"a") + gzip.compress(b"bc"), "gzip", limit=3) == b"abc"  # two members


def test_an_honest_gzip_bomb_is_refused_before_inflating() -> None:
    bomb = zeros_gzip(256 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match="claims"):
            decompress(bomb, "gzip", limit=64 << 20)
        assert tracemalloc.get_traced_memory()[1] < 1 << 20  # nothing inflated
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_lying_about_its_size_costs_about_the_limit_in_memory() -> None:
    liar = zeros_gzip(64 << 20)[:-4] + (10).to_bytes(4, "little")
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match="inflates to more than"):
            decompress(liar, "gzip", limit=8 << 20)
        assert tracemalloc.get_traced_memory()[1] < 16 << 20  # about the limit, not the 64 MiB inside
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("body", [b"not gzip at all, not at all", gzip.compress(b"x" * 1000)[:-12], b""])
def test_a_body_that_is_not_gzip_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        decompress(body, "gzip", limit=1 << 20)
