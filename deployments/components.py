"""Live component health for ``/api/v1/status`` and ``/-/ready``.

Asks every actor of a role for its status (with a deadline) and storage for its version,
and folds the answers into the reference's words: ``running`` / ``ready`` / ``connected`` /
``ok`` when all is well, otherwise an honest ``starting``, ``degraded``, ``down``, ``error``,
``unreachable`` or ``disabled``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from actors.directory import RCA_WORKER, TELEMETRY_ROLLUP, VECTORIZER, WATCHDOG_SHARD, ActorDirectory, actor_name
from aiops.settings import Settings
from aiops.storage.gateway import StoreGateway

log = logging.getLogger(__name__)

HEALTHY_WORD = {WATCHDOG_SHARD: "running", VECTORIZER: "running", RCA_WORKER: "ready", TELEMETRY_ROLLUP: "running"}
STATUS_TIMEOUT_SECONDS = 2.0
LLM_PROBE_TTL_SECONDS = 30.0


@dataclass
class RoleHealth:
    word: str
    answers: list[dict[str, Any]] = field(default_factory=list)
    answered_all: bool = False


async def _ask(handle: Any) -> dict[str, Any] | None:
    try:
        return await asyncio.wait_for(handle.status.remote(), STATUS_TIMEOUT_SECONDS)
    except Exception as error:  # a dead, restarting or slow actor counts as not answering
        log.debug("status call failed: %s", error)
        return None


def fold(role: str, answers: list[dict[str, Any] | None]) -> RoleHealth:
    """One word for a role from its actors' answers."""
    alive = [answer for answer in answers if answer is not None]
    if not alive:
        return RoleHealth("down", [], False)
    healthy = HEALTHY_WORD[role]
    states = {answer.get("state") for answer in alive}
    if len(alive) == len(answers) and states <= {"running", "ready"}:
        word = healthy
    elif "starting" in states and len(alive) == len(answers) and not states - {"running", "ready", "starting"}:
        word = "starting"
    else:
        word = "degraded"
    return RoleHealth(word, alive, len(alive) == len(answers))


class ComponentProbe:
    def __init__(self, settings: Settings, store: StoreGateway, directory: ActorDirectory) -> None:
        self._settings = settings
        self._store = store
        self._directory = directory
        self._llm_word: str | None = None
        self._llm_checked = 0.0

    async def role(self, role: str) -> RoleHealth:
        pairs = self._directory.role(role)
        answers = await asyncio.gather(*(_ask(handle) if handle else _none() for _, handle in pairs))
        for (name, _), answer in zip(pairs, answers, strict=True):
            if answer is None:
                self._directory.forget(name)
        return fold(role, list(answers))

    async def singleton(self, role: str) -> str:
        """The state word of a one-of-a-kind actor (``<role>-0``), or ``down``."""
        name = actor_name(role, 0)
        handle = self._directory.get(name)
        answer = await _ask(handle) if handle else None
        if answer is None:
            self._directory.forget(name)
            return "down"
        return str(answer.get("state", "down"))

    async def clickhouse(self) -> str:
        try:
            await asyncio.wait_for(self._store.aio.ping(), STATUS_TIMEOUT_SECONDS * 2)
            return "ok"
        except Exception as error:
            log.warning("clickhouse ping failed: %s", error)
            return "down"

    async def llm(self) -> str:
        llm = self._settings.llm
        if not llm.url:
            return "disabled"
        now = time.monotonic()
        if self._llm_word is not None and now - self._llm_checked < LLM_PROBE_TTL_SECONDS:
            return self._llm_word
        headers = {"Authorization": f"Bearer {llm.api_key.get_secret_value()}"} if llm.api_key else {}
        try:
            async with httpx.AsyncClient(timeout=min(llm.timeout_seconds, 3.0)) as client:
                response = await client.get(llm.url.rstrip("/") + "/models", headers=headers)
            word = "connected" if response.is_success else "error"
        except httpx.HTTPError:
            word = "error"
        self._llm_word, self._llm_checked = word, now
        return word


async def _none() -> None:
    return None
