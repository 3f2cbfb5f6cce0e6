"""Optional second opinion from an OpenAI-compatible ``POST {base_url}/moderations`` endpoint.

It runs after the local rules (which are free and instant) and only when configured.  Request and
response follow OpenAI's shape::

    → {"model": "omni-moderation-latest", "input": "<prompt>"}
    ← {"results": [{"flagged": true, "categories": {"sexual": true, "violence": false, ...}}]}

When the endpoint cannot answer — timeout, connection error, HTTP error, malformed JSON — the verdict
depends on ``fail_open``: ``False`` (the default, fail-closed) refuses with category ``"moderation"`` and
a reason saying the safety check was unavailable; ``True`` lets the prompt through (the local rules have
already passed it).  The API key is a ``SecretStr`` and never appears in a log line or a verdict.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.rules.verdict import Verdict

__all__ = ["UNAVAILABLE_REASON", "moderate"]

log = logging.getLogger(__name__)

UNAVAILABLE_REASON = "The safety check is unavailable right now, so the prompt can't be sent. Please try again later."
FLAGGED_REASON = "The safety check flagged this prompt, so it can't be generated."

# Provider category names → our categories, for the verdict (the member still sees one generic sentence).
_CATEGORY_MAP = {
    "sexual/minors": "minors",
    "sexual": "sexual",
    "self-harm": "self_harm",
    "self-harm/intent": "self_harm",
    "self-harm/instructions": "self_harm",
    "hate": "hate",
    "hate/threatening": "hate",
    "harassment": "hate",
    "harassment/threatening": "hate",
    "violence": "violence",
    "violence/graphic": "violence",
}


def _unavailable(fail_open: bool, why: str) -> Verdict:
    log.warning("moderation endpoint unavailable (%s); %s", why, "allowing" if fail_open else "refusing")
    if fail_open:
        return Verdict.ok()
    return Verdict(False, "moderation", UNAVAILABLE_REASON, "moderation:unavailable")


def _flagged_category(result: dict[str, Any]) -> str:
    categories = result.get("categories")
    if isinstance(categories, dict):
        for name, hit in categories.items():
            if hit is True:
                return f"moderation:{_CATEGORY_MAP.get(name, name.replace('/', '_'))}"
    return "moderation:flagged"


async def moderate(
    session: aiohttp.ClientSession,
    text: str,
    *,
    base_url: str,
    api_key: SecretStr | None,
    model: str = "omni-moderation-latest",
    timeout_seconds: float = 5,
    fail_open: bool = False,
) -> Verdict:
    """Ask the moderation endpoint about ``text``; see the module docstring for failure handling."""
    url = base_url.rstrip("/") + "/moderations"
    headers = {"Content-Type": "application/json"}
    if api_key is not None and api_key.get_secret_value():
        headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
    try:
        async with asyncio.timeout(timeout_seconds):
            async with session.post(url, json={"model": model, "input": text}, headers=headers) as response:
                if response.status != 200:
                    return _unavailable(fail_open, f"HTTP {response.status}")
                body = await response.json(content_type=None)
    except TimeoutError:
        return _unavailable(fail_open, "timeout")
    except (aiohttp.ClientError, ValueError) as exc:
        return _unavailable(fail_open, type(exc).__name__)
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or not results or not all(isinstance(r, dict) for r in results):
        return _unavailable(fail_open, "malformed response")
    for result in results:
        flagged = result.get("flagged")
        if not isinstance(flagged, bool):
            return _unavailable(fail_open, "malformed response")
        if flagged:
            return Verdict(False, "moderation", FLAGGED_REASON, _flagged_category(result))
    return Verdict.ok()
