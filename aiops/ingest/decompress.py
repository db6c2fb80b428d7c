"""Decompression that never does more work than the limit allows.

A small compressed body can inflate a thousandfold (a "zip bomb"), so every decoder
checks the size a body *claims* before allocating and stops at the limit while
inflating, whatever it claimed:

- snappy (block format, Prometheus remote_write): the uncompressed length is a varint at
  the start of the block; it is checked against the limit before anything is allocated,
  and the decoder fails if the data does not inflate to exactly that length;
- gzip (RFC 1952; OTLP/HTTP and other senders): a member ends with its inflated size
  modulo 2**32 (ISIZE, section 2.3.1); a body whose last member claims more than the
  limit is refused before anything is inflated. The claim is the sender's word, so the
  inflater is then asked for at most the bytes the limit has left, a chunk at a time, and
  stops the moment the output would pass the limit: memory and CPU stay proportional to
  the limit, never to what the body holds (members are inflated in turn, sharing the limit);
- identity: the body itself must be within the limit.

Errors are :class:`~aiops.errors.PayloadTooLarge` (413) for size and
:class:`~aiops.errors.BadRequest` (400) for data that is not what it says it is.

>>> import cramjam, gzip
>>> decompress(bytes(cramjam.snappy.compress_raw(b"a" * 1000)), "snappy", limit=1000) == b"a" * 1000
True
>>> decompress(gzip.compress(b"a" * 1001), "gzip", limit=1000)
Traceback (most recent call last):
    ...
aiops.errors.PayloadTooLarge: gzip body claims to inflate to 1001 bytes; the limit is 1000
"""

from __future__ import annotations

import zlib

import cramjam

from aiops.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

ENCODINGS = ("snappy", "gzip", "identity")
_CHUNK = 1 << 20  # gzip: inflate at most this much per step


def snappy_claimed_length(body: bytes) -> int:
    """The uncompressed length a snappy block states in its header (a little-endian base-128 varint)."""
    length, shift = 0, 0
    for index, byte in enumerate(body[:10]):
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            return length
        shift += 7
        if index == 4:  # snappy lengths are 32-bit: at most five bytes
            break
    raise BadRequest("body is not snappy block-compressed: no length header")


def _snappy(body: bytes, limit: int) -> bytes:
    claimed = snappy_claimed_length(body)
    if claimed > limit:
        raise PayloadTooLarge(f"snappy body claims to inflate to {claimed} bytes; the limit is {limit}")
    try:
        # The decoder allocates the claimed length (checked above) and fails unless the data
        # inflates to exactly that.
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception:  # cramjam raises its own DecompressionError
        raise BadRequest("body is not snappy block-compressed (its data does not match its header)") from None


def _gzip(body: bytes, limit: int) -> bytes:
    gzip_like = len(body) >= 18 and body[:2] == b"\x1f\x8b"  # magic, 10-byte header, 8-byte trailer
    if gzip_like and int.from_bytes(body[-4:], "little") > limit:
        raise PayloadTooLarge(f"gzip body claims to inflate to {int.from_bytes(body[-4:], 'little')} bytes; "
                              f"the limit is {limit}")
    out: list[bytes] = []
    produced = 0
    data = body
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header and trailer
        try:
            while not inflater.eof:
                # max_length bounds this step's output (memory stays about the limit plus one
                # chunk); input not yet inflated waits in unconsumed_tail.
                chunk = inflater.decompress(data, min(_CHUNK, limit - produced + 1))
                produced += len(chunk)
                if produced > limit:
                    raise PayloadTooLarge(f"gzip body inflates to more than the {limit}-byte limit")
                out.append(chunk)
                data = inflater.unconsumed_tail
                if not chunk and not data:
                    raise BadRequest("body is not gzip-compressed: it ends before its data does")
        except zlib.error as error:
            raise BadRequest(f"body is not gzip-compressed: {error}") from None
        data = inflater.unused_data
        if not data:
            return b"".join(out)
        # Another gzip member follows (RFC 1952 allows several); they share the limit.


def decompress(body: bytes, encoding: str, *, limit: int) -> bytes:
    """``body`` inflated per its ``Content-Encoding`` (``snappy``, ``gzip`` or ``identity``/empty),
    never past ``limit`` bytes of output."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "snappy":
        return _snappy(body, limit)
    if encoding == "gzip":
        return _gzip(body, limit)
    if encoding == "identity":
        if len(body) > limit:
            raise PayloadTooLarge(f"body of {len(body)} bytes is over the {limit}-byte limit")
        return body
    raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
