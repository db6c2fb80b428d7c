"""Bounded decompression of request bodies: the output is capped while it is produced.

A compressed body's size says little about what it inflates to (a 10 MB gzip body can
hold 10 GB of zeros), so checking the output after inflating is too late. A gzip stream
ends with its inflated size (ISIZE, RFC 1952 section 2.3.1): when that alone is over the
limit the body is refused before anything is inflated. ISIZE is the sender's word, so
the inflater is then asked for at most ``limit + 1`` bytes in total, a chunk at a time,
and stops with 413 the moment the output would pass ``limit``: memory and CPU stay
proportional to the limit, never to what the body holds.
"""

from __future__ import annotations

import zlib

from aiops.errors import BadRequest, PayloadTooLarge

CHUNK_BYTES = 1 << 20  # inflate at most this much per step


def gunzip_bounded(body: bytes, limit: int) -> bytes:
    """The gzip (RFC 1952) ``body`` inflated, at most ``limit`` bytes of output.

    Raises :class:`PayloadTooLarge` (413) as soon as the output passes ``limit`` and
    :class:`BadRequest` (400) when the body is not gzip or is cut short. Concatenated gzip
    members (allowed by the RFC) are inflated one after another under the same limit.
    """
    gzip_like = len(body) >= 18 and body[:2] == b"\x1f\x8b"  # magic, 10-byte header, 8-byte trailer
    if gzip_like and int.from_bytes(body[-4:], "little") > limit:
        raise PayloadTooLarge(f"body declares {int.from_bytes(body[-4:], 'little')} inflated bytes, over the "
                              f"{limit}-byte limit")
    out: list[bytes] = []
    produced = 0
    data = body
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header and trailer
        try:
            while not inflater.eof:
                # max_length bounds this step's output; input not yet inflated waits in unconsumed_tail.
                chunk = inflater.decompress(data, min(CHUNK_BYTES, limit - produced + 1))
                produced += len(chunk)
                if produced > limit:
                    raise PayloadTooLarge(f"body inflates to more than the {limit}-byte limit")
                out.append(chunk)
                data = inflater.unconsumed_tail
                if not chunk and not data:
                    raise BadRequest("body is not valid gzip: it ends before the gzip stream does")
        except zlib.error as error:
            raise BadRequest(f"body is not valid gzip: {error}") from None
        rest = inflater.unused_data
        if not rest:
            return b"".join(out)
        data = rest  # another gzip member follows
