"""Log templates: Drain (He et al., ICWS 2017) through the ``drain3`` package, for one window at a time.

Log lines that differ only in their variables (ids, numbers, names) share a template, so
"Order 8f3a... not found" and "Order 77c1... not found" count as one kind of event. The
mining runs per analysis over that window's records; nothing is persisted. Before mining,
what every line carries but no template should (a leading clock time and level, trace and
span ids) is cut, UUIDs, long hex ids and numbers are masked, and the service name leads the
line so two services' lines never share a template.
"""

from __future__ import annotations

import re

import numpy as np

_PREFIX = re.compile(
    r"^\s*(?:\d{4}-\d\d-\d\d[T ])?\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s+"
    r"(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|CRITICAL|FATAL)?\s*", re.IGNORECASE)
_IDS = re.compile(r"(?i)\b(?:trace_?id|span_?id)[:=]\s*\S+\s*")
EXCEPTION = re.compile(r"\b((?:[a-z_][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error|Throwable))\b")


def _miner(similarity: float, depth: int):
    from drain3 import TemplateMiner  # imported only by processes that analyse logs
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = similarity
    config.drain_depth = depth
    config.drain_extra_delimiters = ["[", "]", ",", "=", "(", ")", "{", "}"]
    config.masking_instructions = [
        MaskingInstruction(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
        MaskingInstruction(r"\b(?:0x)?[0-9a-fA-F]{16,}\b", "HEX"),
        MaskingInstruction(r"(?<![A-Za-z])[-+]?\d+(?:[.:]\d+)*", "NUM"),
    ]
    return TemplateMiner(config=config)


def clean(body: str) -> str:
    """The part of a log line that names the event: no leading time and level, no trace or span ids."""
    return _IDS.sub("", _PREFIX.sub("", body, count=1))


def mine_templates(services: np.ndarray, bodies: np.ndarray, *, similarity: float = 0.5,
                   depth: int = 5) -> tuple[np.ndarray, dict[int, str]]:
    """Template id of every line and each template's text (variables shown as ``<*>``, ``<NUM>`` ...).

    ``services`` and ``bodies``: (N,) strings. Repeated lines are mined once.
    """
    miner = _miner(similarity, depth)
    lines = np.char.add(np.char.add(services.astype(str), " "),
                        np.array([clean(b) for b in bodies.astype(str)], dtype=object).astype(str))
    distinct, inverse = np.unique(lines, return_inverse=True)
    ids = np.array([miner.add_log_message(str(line))["cluster_id"] for line in distinct], dtype=np.int64)
    texts = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return ids[inverse], texts


def exception_names(bodies: np.ndarray) -> np.ndarray:
    """(N,) the first exception or error class named in each line (``""`` when none)."""
    out = np.empty(len(bodies), dtype=object)
    for i, body in enumerate(bodies):
        found = EXCEPTION.search(str(body))
        out[i] = found.group(1) if found else ""
    return out
