"""The content rules engine: decide locally, before a provider is paid, whether a request can be generated.

Everything here is pure and synchronous (except the optional :mod:`bot.rules.moderation` pass), so the
cogs, the moderator tools and the tests share one entry point::

    from bot.rules import check_prompt, check_image

    verdict = check_prompt("a knight fights a dragon at dawn")
    if not verdict.allowed:
        await interaction.response.send_message(verdict.reason, ephemeral=True)   # never verdict.rule

Prompts are normalized against evasion (:mod:`bot.rules.normalize`) and matched against the built-in
rule packs in ``bot/rules/packs/*.toml`` (:mod:`bot.rules.engine`), then against a guild's extra rules
(:mod:`bot.rules.extra`).  Reference images are checked by :mod:`bot.rules.images`.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.rules.engine import builtin_rules
from bot.rules.extra import (
    CompiledRules,
    ExtraRule,
    compile_cached,
    compile_extra_rule,
    compile_extra_rules,
    validate_extra_rule,
)
from bot.rules.images import ImageRejected, check_image, prepare_reference_image
from bot.rules.normalize import analyse, normalize
from bot.rules.verdict import CATEGORIES, CATEGORY_ORDER, REASONS, Verdict

__all__ = [
    "CATEGORIES",
    "CATEGORY_ORDER",
    "MAX_PROMPT_CHARS",
    "REASONS",
    "CompiledRules",
    "ExtraRule",
    "ImageRejected",
    "Verdict",
    "check_image",
    "check_prompt",
    "compile_extra_rule",
    "compile_extra_rules",
    "normalize",
    "prepare_reference_image",
    "validate_extra_rule",
    "warm_up",
]

MAX_PROMPT_CHARS = 20_000
"""Longer text is checked only up to this many characters (Discord's own limits are far lower)."""


def check_prompt(text: str, extra_rules: CompiledRules | Iterable[ExtraRule] = ()) -> Verdict:
    """Check a prompt against the built-in rule packs, then against a guild's extra rules.

    ``extra_rules`` is best passed pre-compiled (:func:`compile_extra_rules`, once per guild and change);
    a plain sequence of :class:`ExtraRule` is compiled and memoized on the fly.
    """
    if len(text) > MAX_PROMPT_CHARS:
        text = text[:MAX_PROMPT_CHARS]
    analysis = analyse(text)
    verdict = builtin_rules().check(analysis)
    if not verdict.allowed:
        return verdict
    if isinstance(extra_rules, CompiledRules):
        compiled = extra_rules
    else:
        rules = tuple(extra_rules)
        if not rules:
            return verdict
        compiled = compile_cached(rules)
    if len(compiled) == 0:
        return verdict
    return compiled.check(analysis, text)


def warm_up() -> None:
    """Compile the built-in packs now rather than on the first prompt (call once at start-up)."""
    builtin_rules()
    check_prompt("warm up")
