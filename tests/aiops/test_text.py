"""Text that is not text: lone surrogates found where they sit, in decoded JSON and in raw JSON bytes."""

from __future__ import annotations

import doctest
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops import text as module
from aiops.text import find_bad_text, is_text, lone_surrogate_escapes, unique_pairs
from tests.properties import PROPERTY


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def test_a_deep_document_does_not_meet_the_recursion_limit() -> None:
    deep: object = "\ud83d"
    for _ in range(5000):
        deep = [deep]
    assert find_bad_text(deep).startswith("[0][0][0]")


# JSON values whose strings and keys may hold a lone surrogate.
surrogates = st.integers(0xD800, 0xDFFF).map(chr)
texts = st.text(max_size=6) | st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), surrogates,
                                        st.text(max_size=3))
documents = st.recursive(st.none() | st.integers() | texts,
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                         max_leaves=20)


def _escaped(document) -> bytes:
    # json.dumps writes a surrogate as a \\udXXX escape (ensure_ascii), as a hostile sender would.
    return json.dumps(document).encode()


def _has_lone(document) -> bool:
    if isinstance(document, str):
        return not is_text(document)
    if isinstance(document, dict):
        return any(_has_lone(k) or _has_lone(v) for k, v in document.items())
    if isinstance(document, list):
        return any(_has_lone(item) for item in document)
    return False


@pytest.mark.reliability(
    fault="lone UTF-16 surrogates anywhere in a JSON document: keys, values, nesting (Hypothesis)",
    promise="found, with the field named, both in decoded JSON and in the raw bytes (never a 500 later)",
    kind="8 text that is not text",
)
def test_lone_surrogates_are_found_with_their_field(record_property) -> None:
    found = [0, 0]

    @PROPERTY
    @given(document=documents)
    def check(document) -> None:
        raw = _escaped(document)
        decoded = json.loads(raw, object_pairs_hook=unique_pairs)
        problem = find_bad_text(decoded)
        lone = _has_lone(document)
        assert (problem is not None) == lone, (document, problem)
        # The byte scanner agrees: a lone surrogate in the data is a lone escape in the text.
        assert bool(lone_surrogate_escapes(raw)) == lone, raw
        found[lone] += 1

    check()
    record_property("measured", f"{sum(found)} generated documents: {found[1]} with lone surrogates, each found "
                                f"and named; {found[0]} clean, none flagged")


def test_a_key_given_twice_is_named() -> None:
    decoded = json.loads('{"alerts": [{"labels": {"az": "1", "az": "2"}}]}', object_pairs_hook=unique_pairs)
    assert find_bad_text(decoded) == "alerts[0].labels: the key 'az' appears more than once"
