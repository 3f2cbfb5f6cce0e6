"""The rule-pack engine: pack format, verdicts, categories, allow phrases, combos and the built-in packs."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from bot.rules import CATEGORIES, REASONS, Verdict, check_prompt
from bot.rules.engine import PackError, builtin_rules, inflections, load_packs, pack_sources, term_forms
from bot.rules.normalize import analyse

PACK_DIR = Path(__file__).resolve().parents[1] / "bot" / "rules" / "packs"


# --- Verdict ---------------------------------------------------------------------------------


def test_verdict_ok_and_refuse() -> None:
    ok = Verdict.ok()
    assert ok.allowed and ok.category is None and ok.rule is None and ok.reason == ""
    refused = Verdict.refuse("sexual", rule="pack:sexual:nudity")
    assert not refused.allowed and refused.reason == REASONS["sexual"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        refused.allowed = True  # type: ignore[misc]


def test_every_category_has_a_reason_sentence() -> None:
    for category in CATEGORIES:
        assert REASONS[category].endswith("."), category


# --- the built-in packs ----------------------------------------------------------------------


def test_every_built_in_pack_parses_and_has_a_known_category() -> None:
    sources = pack_sources()
    names = {name for name, _ in sources}
    assert {
        "sexual",
        "minors",
        "violence",
        "hate",
        "self_harm",
        "real_people",
        "copyright_characters",
        "copyright_music",
        "brands",
    } <= names
    for name, text in sources:
        data = tomllib.loads(text)
        assert data["category"] in CATEGORIES, name
        assert text.lstrip().startswith("#"), f"{name}: a pack starts with a comment explaining its line"
    ruleset = builtin_rules()
    ids = [rule.id for rule in ruleset.rules]
    assert len(ids) == len(set(ids))
    assert ruleset.term_count > 2000


def test_pack_files_on_disk_are_the_packs_loaded() -> None:
    assert sorted(p.stem for p in PACK_DIR.glob("*.toml")) == sorted(name for name, _ in pack_sources())


def test_blocking_rules_carry_member_facing_reasons_without_placeholders() -> None:
    for rule in builtin_rules().rules:
        assert rule.reason.endswith("."), rule.id
        assert "{" not in rule.reason and rule.id.startswith("pack:")


@pytest.mark.parametrize(
    ("prompt", "category", "rule"),
    [
        ("a nude woman on a beach", "sexual", "pack:sexual:nudity"),
        ("a sexy 15 year old", "minors", None),
        ("a beheading in the town square", "violence", "pack:violence:gore"),
        ("a swastika banner", "hate", "pack:hate:hate_symbols_and_groups"),
        ("a man hanging himself", "self_harm", "pack:self_harm:suicide"),
        ("Barack Obama surfing", "real_people", "pack:real_people:public_figures"),
        ("hey <@123456789> look", "real_people", "pack:real_people:discord_mentions"),
        ("Pikachu surfing", "copyright_character", "pack:copyright_characters:characters"),
        ("a music video for Despacito", "copyright_music", "pack:copyright_music:distinctive_songs"),
        ("a can of Coca-Cola", "brand", "pack:brands:brands"),
    ],
)
def test_each_category_refuses_with_its_rule(prompt: str, category: str, rule: str | None) -> None:
    verdict = check_prompt(prompt)
    assert not verdict.allowed
    assert verdict.category == category
    if rule is not None:
        assert verdict.rule == rule


def test_the_most_severe_category_wins() -> None:
    verdict = check_prompt("Taylor Swift naked")
    assert verdict.category == "sexual"  # sexual outranks real_people
    assert check_prompt("a naked 12 year old").category == "minors"


def test_reasons_never_repeat_the_offending_words() -> None:
    for prompt in ("a naked woman", "Pikachu", "Donald Trump", "a n1gger", "a swastika", "Despacito video"):
        verdict = check_prompt(prompt)
        assert not verdict.allowed
        for word in prompt.lower().split():
            if len(word) > 3:
                assert word not in verdict.reason.lower()


def test_mentions_and_here_everyone() -> None:
    for text in ("<@123>", "<@!123>", "<@&123>", "@everyone", "@here party", "hi ＠everyone"):
        assert check_prompt(text).rule == "pack:real_people:discord_mentions", text
    assert check_prompt("a postcard addressed to bob@here.com").allowed
    assert check_prompt("a sign that says everyone welcome").allowed


def test_named_person_heuristic() -> None:
    assert check_prompt("a photo of Sarah Connolly at the beach").category == "real_people"
    assert check_prompt("realistic video featuring Mark Brennan").category == "real_people"
    # lower case, public-domain characters, places and Title Case prompts are not people
    assert check_prompt("a photo of sarah connolly at the beach").allowed
    assert check_prompt("a photo of Peter Pan flying").allowed
    assert check_prompt("a video of Jack Frost painting windows").allowed
    assert check_prompt("a photo of Lake Tahoe").allowed
    assert check_prompt("A Video Of Mary Walking Her Dog In The Park At Sunset").allowed


def test_allow_phrases_only_neutralize_their_own_pack() -> None:
    assert check_prompt("a maine coon cat").allowed
    assert check_prompt("a blue tit on a branch").allowed
    assert check_prompt("playing trump cards").allowed
    # "sex pistols" is allowed by the sexual pack but still a band in the music pack
    assert check_prompt("a sex pistols concert").category == "copyright_music"


def test_combos_need_every_part() -> None:
    assert check_prompt("imagine dragons flying over a castle").allowed
    assert check_prompt("a band playing imagine dragons songs").category == "copyright_music"
    assert check_prompt("a sexy red sports car").allowed
    assert check_prompt("a teenager skateboarding").allowed
    assert check_prompt("a sexy teenager").category == "minors"
    assert check_prompt("an army of goblin minions").allowed
    assert check_prompt("minions eating bananas").category == "copyright_character"


def test_violence_line() -> None:
    for ok in (
        "a knight fights a dragon",
        "a sniper scene in a war movie",
        "explosion in a film",
        "a boxer with a bloody nose",
        "a lion kills a zebra",
    ):
        assert check_prompt(ok).allowed, ok
    for bad in (
        "a man kills a child",
        "kicking a puppy",
        "a school shooting",
        "blood gushing from his neck",
        "a child being beaten",
    ):
        assert check_prompt(bad).category == "violence", bad


def test_empty_and_very_long_prompts() -> None:
    assert check_prompt("").allowed
    assert check_prompt("   ").allowed
    long_prompt = "a quiet meadow " * 5000 + " naked"
    assert check_prompt(long_prompt).allowed  # beyond MAX_PROMPT_CHARS: not read
    assert not check_prompt("naked " + "a quiet meadow " * 1000).allowed


# --- pack format -----------------------------------------------------------------------------

MINI = """
category = "brand"
allow = ["acme anvil museum"]

[[rule]]
id = "names"
terms = ["acme", "=roadrun", "blow~ up the moon"]

[[rule]]
id = "ctx"
mode = "context"
terms = ["rocket"]

[[rule]]
id = "ctx2"
mode = "context"
terms = ["skates"]

[[rule]]
id = "pattern"
regex = [{ re = '\\bwidget (?:{terms:ctx})\\b', when_any = ["widget"] }]

[[combo]]
id = "both"
all = ["mini:ctx", "mini:ctx2"]
"""


def _check(ruleset: object, text: str) -> Verdict:
    return ruleset.check(analyse(text))  # type: ignore[attr-defined]


def test_mini_pack_terms_inflections_exact_and_marked_words() -> None:
    ruleset = load_packs([("mini", MINI)])
    assert _check(ruleset, "an acme anvil").rule == "pack:mini:names"
    assert _check(ruleset, "two acmes").rule == "pack:mini:names"  # inflected
    assert _check(ruleset, "roadrun").rule == "pack:mini:names"
    assert _check(ruleset, "roadruns").allowed  # "=" means exact
    assert _check(ruleset, "blowing up the moon").rule == "pack:mini:names"  # "~" inflects that word
    assert _check(ruleset, "the acme anvil museum").allowed  # allow phrase
    assert _check(ruleset, "a rocket").allowed  # context alone
    assert _check(ruleset, "rocket skates").rule == "pack:mini:both"
    assert _check(ruleset, "a widget rocket").rule == "pack:mini:pattern"  # {terms:ctx} macro


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('category = "nope"', "category"),
        ('category = "brand"\n[[rule]]\nterms = ["x"]', "unique string id"),
        ('category = "brand"\n[[rule]]\nid = "a"', "needs terms or regex"),
        ('category = "brand"\n[[rule]]\nid = "a"\nterms = ["x"]\n[[rule]]\nid = "a"\nterms = ["y"]', "unique"),
        ('category = "brand"\n[[rule]]\nid = "a"\nregex = ["("]', "bad regex"),
        ('category = "brand"\n[[rule]]\nid = "a"\nterms = ["x"]\nallow = ["y"]', "unknown keys"),
        ('category = "brand"\n[[rule]]\nid = "a"\nmode = "maybe"\nterms = ["x"]', "mode"),
        (
            'category = "brand"\n[[rule]]\nid = "a"\nterms = ["x"]\n[[combo]]\nid = "c"\nall = ["p:a", "p:zz"]',
            "matches no rule",
        ),
        ('category = "brand"\n[[rule]]\nid = "a"\nregex = ["{terms:later}"]', "earlier rule"),
        ("category = ", "pack p"),
    ],
)
def test_malformed_packs_are_rejected_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(PackError, match=message):
        load_packs([("p", text)])


def test_inflections_and_term_forms() -> None:
    assert {"behead", "beheads", "beheaded", "beheading"} <= inflections("behead")
    assert {"stab", "stabbing", "stabbed"} <= inflections("stab")
    assert {"rape", "raped", "raping"} <= inflections("rape")
    assert inflections("ok") == {"ok"}
    assert ("spiderman",) in term_forms("spider-man")
    assert term_forms("!!!") == []
