"""Log templates of one tenant, mined with Drain (the ``drain3`` package).

Drain (He et al., "Drain: An Online Log Parsing Approach with Fixed Depth Tree", ICWS
2017) groups messages by length and leading tokens in a fixed-depth tree and joins a
message to the most similar template of its leaf when at least ``similarity`` of the
tokens agree; differing tokens become ``<*>`` (tokens with digits are parameters from
the start). At most ``max_templates`` are kept, the least recently matched dropped first.

Template ids are the engine's own (1, 2, ... per tenant), so they outlive the miner: a
restarted miner is rebuilt by mining the stored templates themselves (a ``<*>`` token
matches any token, so a rebuilt template takes the same messages), and maps Drain's
new cluster ids onto the stored ids. No pickled state is kept.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> miner = TenantTemplates([], max_templates=100, similarity=0.4)
    >>> miner.mine("user alice logged in", at)
    (1, True)
    >>> miner.mine("user bob logged in", at)
    (1, False)
    >>> miner.text(1)
    'user <*> logged in'
"""

from __future__ import annotations

import logging
from datetime import datetime

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

logging.getLogger("drain3").setLevel(logging.WARNING)  # it logs every snapshot decision at INFO


class TenantTemplates:
    def __init__(self, stored: list[tuple[int, str, datetime, datetime]], *, max_templates: int,
                 similarity: float) -> None:
        config = TemplateMinerConfig()
        config.drain_sim_th = similarity
        config.drain_max_clusters = max_templates
        config.parametrize_numeric_tokens = True
        config.profiling_enabled = False
        self._miner = TemplateMiner(None, config)
        self._max_templates = max_templates
        self._ids: dict[int, int] = {}  # Drain cluster id -> template id
        self._texts: dict[int, str] = {}
        self._first_seen: dict[int, datetime] = {}
        self._changed: set[int] = set()
        self._next_id = 1
        for template_id, text, first_seen, _ in stored:
            cluster = int(self._miner.add_log_message(text)["cluster_id"])
            self._ids.setdefault(cluster, template_id)
            self._texts[template_id] = text
            self._first_seen[template_id] = first_seen
            self._next_id = max(self._next_id, template_id + 1)

    def mine(self, message: str, at: datetime) -> tuple[int, bool]:
        """``(template_id, new)`` of ``message``; ``at`` is when a new template is first seen."""
        result = self._miner.add_log_message(message)
        cluster = int(result["cluster_id"])
        known = self._ids.get(cluster)
        new = known is None
        if known is None:
            template_id = self._next_id
            self._next_id += 1
            self._ids[cluster] = template_id
            self._first_seen[template_id] = at
            if len(self._ids) > 2 * self._max_templates:
                self._forget_evicted()
        else:
            template_id = known
        text = str(result["template_mined"])
        if self._texts.get(template_id) != text:
            self._texts[template_id] = text
            self._changed.add(template_id)
        return template_id, new

    def _forget_evicted(self) -> None:
        live = set(self._miner.drain.id_to_cluster.keys())
        for cluster in [c for c in self._ids if c not in live]:
            template_id = self._ids.pop(cluster)
            self._texts.pop(template_id, None)
            self._first_seen.pop(template_id, None)

    def text(self, template_id: int) -> str | None:
        return self._texts.get(template_id)

    def first_seen(self, template_id: int) -> datetime | None:
        return self._first_seen.get(template_id)

    def rows(self, template_ids: set[int], last_seen: datetime) -> list[tuple[int, str, datetime, datetime]]:
        """``(template_id, template, first_seen, last_seen)`` for templates seen now or changed since last asked."""
        wanted = (template_ids | self._changed) & self._texts.keys()
        self._changed.clear()
        return [(i, self._texts[i], self._first_seen.get(i, last_seen), last_seen) for i in sorted(wanted)]
