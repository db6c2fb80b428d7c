"""What the engine accepts as text: Unicode scalar values, nothing else.

JSON may spell half of a UTF-16 surrogate pair (``"\\ud83d"``, half an emoji). Python's
``json`` decodes it into a string that cannot be encoded as UTF-8, so it would fail much
later (in storage, in a log line) as a 500; msgspec refuses the whole document with a
misleading "truncated" message. Text like that is refused where it enters, naming the
field it sits in.

>>> find_bad_text({"labels": {"az": "eu-1", "team": "\\ud83d"}})
'labels.team: not text (a lone UTF-16 surrogate such as \\\\ud83d)'
>>> lone_surrogate_escapes(rb'{"a": "\\ud83d\\ude00", "b": "\\\\ud83d", "c": "\\udc00"}')
[(44, 50)]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from aiops.errors import BadRequest

_SURROGATE = re.compile("[\ud800-\udfff]")
# A run of backslashes then "u" and a surrogate's four hex digits: an escape only when the
# run is odd (an even run is escaped backslashes followed by the letter u).
_SURROGATE_ESCAPE = re.compile(rb"(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})")
NOT_TEXT = "not text (a lone UTF-16 surrogate such as \\ud83d)"


class DuplicateKeys(dict):
    """A JSON object that named a key more than once (``duplicated`` is the first such key)."""

    duplicated: str = ""


def unique_pairs(pairs: list[tuple[str, Any]]) -> dict:
    """``json.loads`` ``object_pairs_hook``: a dict, marked when a key came twice (the walk reports where)."""
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    marked = DuplicateKeys(result)
    marked.duplicated = next(repeats(key for key, _ in pairs))
    return marked


def repeats(keys: Iterable[str]) -> Iterator[str]:
    """Each key that came before, in order (so ``next`` of it is the first key given twice)."""
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            yield key
        else:
            seen.add(key)


def is_text(value: str) -> bool:
    return _SURROGATE.search(value) is None


def _describe(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def find_bad_text(data: Any, path: str = "") -> str | None:
    """The first problem in decoded JSON: a lone surrogate in a key or a string, or a key given
    twice in one object; as ``"alerts[0].labels.team: ..."``. None when there is none.

    Iterative (an explicit stack), so the depth of the document never meets Python's recursion limit.
    """
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if not is_text(value):
                return f"{where or 'body'}: {NOT_TEXT}"
        elif isinstance(value, dict):
            if isinstance(value, DuplicateKeys):
                key = value.duplicated if is_text(value.duplicated) else ascii(value.duplicated)
                return f"{where or 'body'}: the key {key!r} appears more than once"
            children = []
            for key, item in value.items():
                if not is_text(key):
                    return f"{where or 'body'}: a key is {NOT_TEXT}"
                children.append((_describe(where, key), item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{where}[{index}]", item) for index, item in enumerate(value)]))
    return None


def lone_surrogate_escapes(body: bytes) -> list[tuple[int, int]]:
    """Byte spans of ``\\uD800``-``\\uDFFF`` escapes in JSON text that are not half of a
    proper pair (a high one directly followed by a low one). Cost: one regex pass, plus a
    step per surrogate escape present."""
    spans: list[tuple[int, int]] = []
    pending_high: tuple[int, int] | None = None
    for match in _SURROGATE_ESCAPE.finditer(body):
        if len(match.group(1)) % 2 == 0:
            continue  # escaped backslashes, then a plain "u"
        start, end = match.end(1) - 1, match.end()
        high = match.group(2)[1:2].lower() in b"89ab"
        if pending_high is not None:
            if not high and start == pending_high[1]:
                pending_high = None  # a proper pair
                continue
            spans.append(pending_high)
            pending_high = None
        if high:
            pending_high = (start, end)
        else:
            spans.append((start, end))
    if pending_high is not None:
        spans.append(pending_high)
    return spans


def decode_json(body: bytes) -> Any:
    """JSON text -> Python value; 400 naming the problem unless it is strict JSON: UTF-8,
    well-formed, real text in every string and key, no key twice in one object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"body is not UTF-8 text (byte {error.start})") from None
    try:
        data = json.loads(text, object_pairs_hook=unique_pairs)
    except RecursionError:
        raise BadRequest("body is not valid JSON: nested too deeply") from None
    except json.JSONDecodeError as error:
        raise BadRequest(f"body is not valid JSON: {error}") from None
    problem = find_bad_text(data)
    if problem is not None:
        raise BadRequest(problem)
    return data
