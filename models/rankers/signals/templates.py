"""Log templates: Drain (He et al., ICWS 2017) through the ``drain3`` package, for one window at a time.

Log lines that differ only in their variables (ids, numbers, names) share a template, so
"Order 8f3a... not found" and "Order 77c1... not found" count as one kind of event. The
mining runs per analysis over that window's records; nothing is persisted. Before mining,
what every line carries but no template should (a leading clock time and level, trace and
span ids) is cut, UUIDs, long hex ids and numbers are masked, and the service name leads the
line so two services' lines never share a template (it is left out of the template's text).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_PREFIX = re.compile(
    r"^\s*(?:(?:\d{4}-\d\d-\d\d[T ])?\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s+)?"
    r"(?:(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|CRITICAL|FATAL)(?=[\s:\]])[\s:]*)?")
_IDS = re.compile(r"(?i)\b(?:trace_?id|span_?id)[:=]\s*\S+\s*")
_MASKS = [
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<UUID>"),
    (re.compile(r"\b(?:0x)?[0-9a-fA-F]{16,}\b"), "<HEX>"),
    (re.compile(r"(?<![A-Za-z<])[-+]?\d+(?:[.:]\d+)*"), "<NUM>"),
]
_NO_DIGITS = str.maketrans("", "", "0123456789")
EXCEPTION = re.compile(r"\b((?:[a-z_][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error|Throwable))\b")


def _miner(similarity: float, depth: int):
    from drain3 import TemplateMiner  # imported only by processes that analyse logs
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = similarity
    config.drain_depth = depth
    config.drain_extra_delimiters = ["[", "]", ",", "=", "(", ")", "{", "}"]
    config.masking_instructions = []  # lines come masked (:func:`mask`): repeated lines are then mined once
    return TemplateMiner(config=config)


def clean(body: str) -> str:
    """The part of a log line that names the event: no leading time and level, no trace or span ids."""
    return _IDS.sub("", _PREFIX.sub("", body, count=1))


def mask(text: str) -> str:
    """Variables replaced by their type: ``<UUID>``, ``<HEX>`` (long hex ids), ``<NUM>``."""
    for pattern, token in _MASKS:
        text = pattern.sub(token, text)
    return text


def mine_templates(services: np.ndarray, bodies: np.ndarray, *, similarity: float = 0.5,
                   depth: int = 5) -> tuple[np.ndarray, dict[int, str]]:
    """Template id of every line and each template's text (variables shown as ``<*>``, ``<NUM>`` ...).

    ``services`` and ``bodies``: (N,) strings. Lines are cleaned and masked first, so the
    distinct lines left (often a few hundred of thousands) are all Drain has to see; lines
    that differ only in their digits are masked once (digits are variables either way).
    """
    miner = _miner(similarity, depth)
    # Lines that differ only in their digits are one event: clean and mask one of each.
    raw = pd.Series(services, dtype=object).astype(str) + " " + pd.Series(bodies, dtype=object).astype(str)
    shape_codes, shapes = pd.factorize(raw.str.translate(_NO_DIGITS))
    first = np.zeros(len(shapes), dtype=np.int64)
    first[shape_codes[::-1]] = np.arange(len(raw))[::-1]  # each shape's first line
    lines = [_masked(services[i], bodies[i]) for i in first]
    line_codes, distinct = pd.factorize(pd.Index(lines))
    ids = np.array([miner.add_log_message(str(line))["cluster_id"] for line in distinct], dtype=np.int64)
    ids = ids[line_codes][shape_codes]
    # Templates are shown without the service name each line was prefixed with.
    texts = {c.cluster_id: c.get_template().split(" ", 1)[-1] for c in miner.drain.clusters}
    return ids, texts


def _masked(service: str, body: str) -> str:
    return f"{service} {mask(clean(str(body)))}"


def exception_names(bodies: np.ndarray) -> np.ndarray:
    """(N,) the first exception or error class named in each line (``""`` when none)."""
    out = np.empty(len(bodies), dtype=object)
    for i, body in enumerate(bodies):
        found = EXCEPTION.search(str(body))
        out[i] = found.group(1) if found else ""
    return out
