"""Bounded gzip: the output limit holds while inflating, whatever the body claims."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from aiops.errors import BadRequest, PayloadTooLarge
from aiops.ingest.decompress import gunzip_bounded


def zeros_gzip(size: int) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(deflate.compress(b"\0" * (1 << 20)) for _ in range(size >> 20)) + deflate.flush()


def test_a_body_within_the_limit_inflates_whole() -> None:
    data = b"span " * 100_000
    assert gunzip_bounded(gzip.compress(data), len(data)) == data
    assert gunzip_bounded(gzip.compress(b"a") + gzip.compress(b"bc"), 3) == b"abc"  # two members (RFC 1952)


def test_an_honest_bomb_is_refused_before_inflating() -> None:
    bomb = zeros_gzip(256 << 20)
    tracemalloc.start()
    with pytest.raises(PayloadTooLarge, match="declares"):
        gunzip_bounded(bomb, 64 << 20)
    assert tracemalloc.get_traced_memory()[1] < 1 << 20  # nothing inflated
    tracemalloc.stop()


def test_a_bomb_lying_about_its_size_stops_at_the_limit() -> None:
    liar = zeros_gzip(64 << 20)[:-4] + (10).to_bytes(4, "little")
    tracemalloc.start()
    with pytest.raises(PayloadTooLarge, match="inflates to more than"):
        gunzip_bounded(liar, 8 << 20)
    assert tracemalloc.get_traced_memory()[1] < 16 << 20  # about the limit, not the 64 MiB inside
    tracemalloc.stop()


@pytest.mark.parametrize("body", [b"not gzip at all, not at all", gzip.compress(b"x" * 1000)[:-12], b""])
def test_a_body_that_is_not_gzip_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        gunzip_bounded(body, 1 << 20)
