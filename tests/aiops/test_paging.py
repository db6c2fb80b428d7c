"""Page tokens: whatever a client sends as ``page_token`` is a position this API issued, or a 422."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops.errors import Unprocessable
from aiops.paging import EARLIEST_MS, LATEST_MS, decode_position, encode_position
from tests.properties import PROPERTY


def token_of(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize("data", [{"at": 10**30, "id": "anom-1"}, {"at": -62135596800000, "id": "anom-1"},
                                  {"at": 1.5e12, "id": "anom-1"}, {"at": True, "id": "a"}, {"at": 0, "id": ""},
                                  {"at": 0, "id": "x", "more": 1}, [0, "x"], "x"])
def test_crafted_tokens_are_422(data) -> None:
    with pytest.raises(Unprocessable, match="page_token"):
        decode_position(token_of(data))


def test_issued_tokens_round_trip() -> None:
    at = datetime(2026, 4, 10, 12, 0, 0, 123000, tzinfo=UTC)
    assert decode_position(encode_position(at, "anom-7f3d")) == (at, "anom-7f3d")


@pytest.mark.reliability(
    fault="page_token values: random text, and JSON tokens with huge, negative, year-1 or non-integer times",
    promise="a position storage can hold, or 422; never an exception that would be a 500",
    kind="9 numbers at the edge",
)
def test_any_page_token_is_a_position_or_422(record_property) -> None:
    seen = [0, 0]

    @PROPERTY
    @given(token=st.text(max_size=200) | st.builds(
        lambda at, identity: token_of({"at": at, "id": identity}),
        st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.sampled_from([EARLIEST_MS, LATEST_MS]),
        st.text(max_size=20)))
    def check(token: str) -> None:
        try:
            at, identity = decode_position(token)
        except Unprocessable:
            seen[0] += 1
            return
        assert EARLIEST_MS <= at.timestamp() * 1000 <= LATEST_MS and identity
        seen[1] += 1

    check()
    record_property("measured", f"{sum(seen)} tokens: {seen[1]} valid positions, {seen[0]} refused 422, "
                                "no other outcome")
