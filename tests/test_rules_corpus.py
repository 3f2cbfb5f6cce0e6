"""The labelled corpus: recall on prohibited prompts and false refusals on ordinary ones.

``tests/data/rules_corpus.tsv`` holds prompts labelled ``refuse`` (with the expected category) or ``allow``
(``ordinary`` or ``near_miss``).  The bar is recall >= 95 % and false refusals <= 2 %; on failure the test
lists every misclassified prompt with the rule that fired.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.rules import CATEGORIES, REASONS, check_prompt
from bot.rules.engine import builtin_rules

CORPUS = Path(__file__).parent / "data" / "rules_corpus.tsv"
MIN_RECALL = 0.95
MAX_FALSE_REFUSALS = 0.02


@dataclass(frozen=True)
class Sample:
    line: int
    expected: str
    category: str
    prompt: str


def _decode(text: str) -> str:
    """Evasions with invisible characters are written as \\uXXXX escapes in the file."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def load_corpus() -> list[Sample]:
    samples: list[Sample] = []
    header_seen = False
    for number, raw in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if not header_seen:
            header_seen = True
            assert raw.split("\t") == ["expected", "category", "prompt"], f"line {number}: bad header"
            continue
        expected, category, prompt = raw.split("\t")
        samples.append(Sample(number, expected, category, _decode(prompt)))
    return samples


SAMPLES = load_corpus()


def test_corpus_is_well_formed() -> None:
    assert len(SAMPLES) >= 400
    counts = Counter(s.category for s in SAMPLES if s.expected == "refuse")
    for sample in SAMPLES:
        assert sample.expected in ("refuse", "allow"), sample
        if sample.expected == "refuse":
            assert sample.category in CATEGORIES, sample
        else:
            assert sample.category in ("ordinary", "near_miss"), sample
    prompt_categories = {
        "sexual",
        "minors",
        "violence",
        "hate",
        "self_harm",
        "real_people",
        "copyright_character",
        "copyright_music",
        "brand",
    }
    assert prompt_categories <= set(counts), f"categories without prohibited prompts: {prompt_categories - set(counts)}"
    assert all(counts[c] >= 15 for c in prompt_categories), counts
    assert len({s.prompt for s in SAMPLES}) == len(SAMPLES), "duplicate prompts in the corpus"


def test_recall_and_false_refusals() -> None:
    missed: list[str] = []
    false_refusals: list[str] = []
    wrong_category: list[str] = []
    refuse_total = allow_total = 0
    for sample in SAMPLES:
        verdict = check_prompt(sample.prompt)
        if sample.expected == "refuse":
            refuse_total += 1
            if verdict.allowed:
                missed.append(f"  line {sample.line} [{sample.category}] {sample.prompt!r}")
            elif verdict.category != sample.category:
                wrong_category.append(
                    f"  line {sample.line} expected {sample.category}, got {verdict.category} "
                    f"({verdict.rule}): {sample.prompt!r}"
                )
        else:
            allow_total += 1
            if not verdict.allowed:
                false_refusals.append(f"  line {sample.line} [{verdict.rule}] {sample.prompt!r}")

    recall = 1 - len(missed) / refuse_total
    false_rate = len(false_refusals) / allow_total
    report = [
        f"prohibited: {refuse_total}, recall {recall:.1%} (missed {len(missed)})",
        f"ordinary:   {allow_total}, false refusals {false_rate:.1%} ({len(false_refusals)})",
        f"refused under another category than labelled: {len(wrong_category)}",
    ]
    if missed:
        report += ["missed prohibited prompts:", *missed]
    if false_refusals:
        report += ["false refusals:", *false_refusals]
    if wrong_category:
        report += ["category differs (informational):", *wrong_category]
    print("\n".join(report))
    assert recall >= MIN_RECALL and false_rate <= MAX_FALSE_REFUSALS, "\n".join(report)


def test_refusal_reasons_are_fixed_sentences_that_never_quote_the_prompt() -> None:
    """A reason comes from the packs or REASONS, never from the prompt, so it cannot repeat what was written."""
    fixed = {rule.reason for rule in builtin_rules().rules} | set(REASONS.values())
    refused = 0
    for sample in SAMPLES:
        verdict = check_prompt(sample.prompt)
        if verdict.allowed:
            continue
        refused += 1
        assert verdict.reason in fixed, (sample.prompt, verdict.reason)
        assert verdict.reason.endswith(".")
        assert verdict.rule and verdict.rule.startswith("pack:")
    assert refused > 200
