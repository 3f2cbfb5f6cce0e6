"""Per-guild extra rules: validation, compilation, matching and the regex time bound."""

from __future__ import annotations

import pytest
import regex

from bot.rules import (
    CompiledRules,
    ExtraRule,
    check_prompt,
    compile_extra_rule,
    compile_extra_rules,
    validate_extra_rule,
)
from bot.rules.extra import MAX_PATTERN_LENGTH, _CompiledRegex


def test_validate_terms() -> None:
    assert validate_extra_rule("term", "giraffe") is None
    assert validate_extra_rule("term", "purple giraffe") is None
    assert validate_extra_rule("term", "   ") == "The pattern is empty."
    assert validate_extra_rule("term", "!!!") == "The term has no letters or digits."
    assert "longer than" in (validate_extra_rule("term", "x" * (MAX_PATTERN_LENGTH + 1)) or "")
    assert "kind" in (validate_extra_rule("glob", "x*") or "")


def test_validate_regex_reports_the_compiler_error() -> None:
    assert validate_extra_rule("regex", r"\bgir+affe\b") is None
    message = validate_extra_rule("regex", "(unclosed")
    assert message is not None and message.startswith("The regular expression does not compile:")
    assert "missing )" in message


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)+$", r"(x+x+)+y", r"(.*?,){11}P", r"((a+)+)+b"])
def test_validate_rejects_catastrophic_backtracking(pattern: str) -> None:
    message = validate_extra_rule("regex", pattern)
    assert message is not None and "too slow" in message


@pytest.mark.parametrize("pattern", [r"a*", r"(foo)?", r"^"])
def test_validate_rejects_patterns_that_match_everything(pattern: str) -> None:
    assert "matches empty text" in (validate_extra_rule("regex", pattern) or "")


def test_terms_match_normalized_words_only() -> None:
    rules = compile_extra_rules([ExtraRule("term", "giraffe", 7), ExtraRule("term", "purple cow", 8)])
    assert len(rules) == 2 and not rules.errors
    for text in ("a Giraffe", "two giraffes", "a g1raffe", "a g i r a f f e", "a gіraffe"):  # Cyrillic і
        verdict = check_prompt(text, rules)
        assert (verdict.allowed, verdict.category, verdict.rule) == (False, "guild_rule", "guild:term:7"), text
    assert check_prompt("a purple-cow statue", rules).rule == "guild:term:8"
    assert check_prompt("giraffeland", rules).allowed  # word boundaries
    assert check_prompt("a purple car and a cow", rules).allowed


def test_regexes_match_raw_and_normalized_text_case_insensitively() -> None:
    rules = compile_extra_rules([ExtraRule("regex", r"\bproject\s*x\d+\b", "r1")])
    assert check_prompt("Project X42 launch", rules).rule == "guild:regex:r1"
    assert check_prompt("ＰＲＯＪＥＣＴ x7", rules).rule == "guild:regex:r1"  # normalized text
    assert check_prompt("a project about x-rays", rules).allowed


def test_builtin_packs_apply_first_and_plain_lists_are_accepted() -> None:
    rules = [ExtraRule("term", "giraffe", 1)]
    assert check_prompt("a naked giraffe", rules).category == "sexual"
    assert check_prompt("a giraffe", rules).rule == "guild:term:1"
    assert check_prompt("a giraffe", ()).allowed
    assert check_prompt("a giraffe").allowed


def test_invalid_rules_are_skipped_and_reported() -> None:
    rules = compile_extra_rules([ExtraRule("regex", "(", 1), ExtraRule("term", "okapi", 2)])
    assert set(rules.errors) == {1}
    assert check_prompt("an okapi", rules).rule == "guild:term:2"
    with pytest.raises(ValueError, match="does not compile"):
        compile_extra_rule(ExtraRule("regex", "(", 3))
    single = compile_extra_rule(ExtraRule("term", "zebra", 4))
    assert isinstance(single, CompiledRules) and len(single) == 1


def test_a_regex_that_times_out_refuses_instead_of_hanging() -> None:
    # Bypass validation to simulate a stored hostile pattern; the search must stop at the time limit.
    rules = CompiledRules()
    rules.regexes.append(_CompiledRegex("guild:regex:99", regex.compile(r"(a|aa)+$", regex.IGNORECASE)))
    verdict = check_prompt("a" * 60 + "!", rules)
    assert not verdict.allowed
    assert verdict.category == "guild_rule"
    assert verdict.rule == "guild:regex:99:timeout"
    assert "aaaa" not in verdict.reason


def test_empty_compiled_rules_allow() -> None:
    assert check_prompt("a giraffe", CompiledRules()).allowed
