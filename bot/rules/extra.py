"""Per-guild extra rules: terms and regular expressions a server's moderators add.

Storage is the caller's business (SQLite rows of ``id, kind, pattern``); this module validates a rule
when it is added, compiles a guild's rules once into :class:`CompiledRules`, and applies them.

* ``term`` — normalized exactly like the prompt (case, accents, look-alike letters, leetspeak,
  spacing tricks) and matched on whole words; the last word also matches its regular inflections.
* ``regex`` — compiled case-insensitively with the third-party ``regex`` module and searched in both
  the normalized prompt (:func:`bot.rules.normalize`) and the prompt as typed.  Every search has a hard
  time limit (:data:`REGEX_TIMEOUT_SECONDS`).  **A search that times out counts as a match**: the
  prompt is refused under the guild rule and the verdict's rule id ends in ``:timeout`` so moderators
  can spot and fix the pattern — the bot never hangs and never lets a prompt through because a rule
  was too slow to evaluate.  :func:`validate_extra_rule` also rejects patterns that back-track
  catastrophically on a set of probe strings, so such patterns rarely get stored at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from bot.rules.engine import TermIndex, term_forms
from bot.rules.normalize import Analysis, normalize
from bot.rules.verdict import REASONS, Verdict

__all__ = [
    "MAX_PATTERN_LENGTH",
    "REGEX_TIMEOUT_SECONDS",
    "CompiledRules",
    "ExtraRule",
    "compile_extra_rule",
    "compile_extra_rules",
    "validate_extra_rule",
]

log = logging.getLogger(__name__)

REGEX_TIMEOUT_SECONDS = 0.05
"""Hard limit for one regex search over one prompt."""

MAX_PATTERN_LENGTH = 300
_PROBE_TIMEOUT_SECONDS = 0.2
# Inputs that make badly nested repetitions blow up: long runs of one character, alternating pairs,
# words and spaces, each followed by a character that makes the overall match fail.
# No finite probe set is complete, which is why every search at run time has a hard time limit too.
_PROBES = (
    "a" * 3000 + "!",
    "a" * 40 + "!",
    "ab" * 1500 + "!",
    "aaaa " * 600 + "!",
    "1" * 3000 + "x",
    "x" * 3000,
    "x." * 1500 + "!",
    "a," * 40,
    " " * 3000 + "!",
    "abc def ghi " * 250 + "\x00",
)

Kind = Literal["term", "regex"]


@dataclass(frozen=True, slots=True)
class ExtraRule:
    """One guild rule as stored: ``kind`` is ``"term"`` or ``"regex"``, ``id`` its database id."""

    kind: Kind
    pattern: str
    id: int | str


def _regex_module() -> Any:
    try:
        import regex
    except ImportError:  # pragma: no cover - the package is a dependency of the rules engine
        return None
    return regex


def validate_extra_rule(kind: str, pattern: str) -> str | None:
    """None when the rule can be stored, else a one-line message for the moderator."""
    if kind not in ("term", "regex"):
        return "The rule kind must be 'term' or 'regex'."
    if not pattern or not pattern.strip():
        return "The pattern is empty."
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"The pattern is longer than {MAX_PATTERN_LENGTH} characters."
    if kind == "term":
        if not term_forms(pattern):
            return "The term has no letters or digits."
        return None
    regex = _regex_module()
    if regex is None:
        return "Regular-expression rules need the 'regex' package, which is not installed."
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        return f"The regular expression does not compile: {exc}"
    except (ValueError, OverflowError, RecursionError) as exc:
        return f"The regular expression does not compile: {exc}"
    try:
        if compiled.search("", timeout=_PROBE_TIMEOUT_SECONDS) is not None:
            return "The regular expression matches empty text, so it would refuse every prompt."
        for probe in _PROBES:
            compiled.search(probe, timeout=_PROBE_TIMEOUT_SECONDS)
    except TimeoutError:
        return (
            "The regular expression is too slow on some inputs (catastrophic backtracking); "
            "avoid nested repetition such as (a+)+ or (a|a)*."
        )
    return None


@dataclass(slots=True)
class _CompiledRegex:
    rule_id: str
    pattern: Any


@dataclass(slots=True)
class CompiledRules:
    """A guild's extra rules, compiled once; pass it to :func:`bot.rules.check_prompt`.

    ``errors`` maps the id of every rule that failed validation (and is therefore ignored) to the reason.
    """

    index: TermIndex = field(default_factory=TermIndex)
    term_ids: list[str] = field(default_factory=list)
    regexes: list[_CompiledRegex] = field(default_factory=list)
    errors: dict[int | str, str] = field(default_factory=dict)
    reason: str = REASONS["guild_rule"]

    def __len__(self) -> int:
        return len(self.term_ids) + len(self.regexes)

    def check(self, analysis: Analysis, text: str) -> Verdict:
        if self.term_ids:
            refs = self.index.scan(analysis)
            if refs:
                return Verdict(False, "guild_rule", self.reason, self.term_ids[min(refs)])
        if self.regexes:
            subjects = dict.fromkeys((normalize(text), analysis.raw))
            for rule in self.regexes:
                for subject in subjects:
                    try:
                        if rule.pattern.search(subject, timeout=REGEX_TIMEOUT_SECONDS) is not None:
                            return Verdict(False, "guild_rule", self.reason, rule.rule_id)
                    except TimeoutError:
                        log.warning("guild rule %s timed out; refusing the prompt (fail-closed)", rule.rule_id)
                        return Verdict(False, "guild_rule", self.reason, f"{rule.rule_id}:timeout")
        return Verdict.ok()


def compile_extra_rule(rule: ExtraRule) -> CompiledRules:
    """Compile a single rule (raises ValueError with the validation message if it is invalid)."""
    compiled = compile_extra_rules([rule])
    if compiled.errors:
        raise ValueError(next(iter(compiled.errors.values())))
    return compiled


def compile_extra_rules(rules: Iterable[ExtraRule]) -> CompiledRules:
    """Compile a guild's rules once.  Invalid rules are skipped and listed in ``errors``."""
    compiled = CompiledRules()
    for rule in rules:
        error = validate_extra_rule(rule.kind, rule.pattern)
        if error is not None:
            compiled.errors[rule.id] = error
            log.warning("guild rule %s ignored: %s", rule.id, error)
            continue
        if rule.kind == "term":
            ref = len(compiled.term_ids)
            compiled.term_ids.append(f"guild:term:{rule.id}")
            compiled.index.add(rule.pattern, ref, maskable=True)
        else:
            regex = _regex_module()
            compiled.regexes.append(
                _CompiledRegex(f"guild:regex:{rule.id}", regex.compile(rule.pattern, regex.IGNORECASE))
            )
    compiled.index.finish()
    return compiled


@lru_cache(maxsize=64)
def compile_cached(rules: tuple[ExtraRule, ...]) -> CompiledRules:
    """:func:`compile_extra_rules` memoized on the exact rule tuple (for callers that pass plain lists)."""
    return compile_extra_rules(rules)
