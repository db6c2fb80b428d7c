"""The optional LLM narrator: an OpenAI-compatible chat-completions call that writes the summary.

It is given the facts only (root causes with evidence, blast radius, similar past
resolutions) and asked for one actionable paragraph. Any failure or a timeout
(``llm.timeout_seconds``) returns None and the deterministic template is used instead, so
the LLM can never stall or fail an RCA.
"""

from __future__ import annotations

import json
import logging

import httpx

from aiops.settings import LlmSettings

log = logging.getLogger(__name__)

SYSTEM = (
    "You are an SRE assistant. From the JSON facts of a root-cause analysis, write one short paragraph an "
    "on-call engineer can act on: the most likely root cause and its evidence, which services are affected "
    "and when, and the most relevant past fix if one is given. Use only the facts; do not invent metrics."
)


class LlmNarrator:
    def __init__(self, llm: LlmSettings) -> None:
        self._llm = llm
        self.last_error = ""

    @property
    def enabled(self) -> bool:
        return bool(self._llm.url)

    def narrate(self, facts: dict) -> str | None:
        if not self.enabled:
            return None
        headers = {"Authorization": f"Bearer {self._llm.api_key.get_secret_value()}"} if self._llm.api_key else {}
        body = {"model": self._llm.model, "temperature": 0.2, "max_tokens": 400,
                "messages": [{"role": "system", "content": SYSTEM},
                             {"role": "user", "content": json.dumps(facts, default=str)}]}
        try:
            response = httpx.post(self._llm.url.rstrip("/") + "/chat/completions", json=body, headers=headers,
                                  timeout=self._llm.timeout_seconds)
            response.raise_for_status()
            text = response.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
            self.last_error = f"{type(error).__name__}: {error}"
            log.warning("LLM summary unavailable, using the template: %s", self.last_error)
            return None
        self.last_error = ""
        text = (text or "").strip()
        return text or None
