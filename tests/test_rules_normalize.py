"""Normalization against evasion: Unicode tricks, leetspeak, spacing — without creating false positives."""

from __future__ import annotations

import pytest

from bot.rules import check_prompt, normalize
from bot.rules.normalize import analyse, fold, raw_form, tokens_of


def test_normalize_folds_case_width_accents_and_invisible_characters() -> None:
    assert normalize("Ｐｉｋａ\u200bｃｈｕ  ÉTÉ") == "pikachu ete"
    assert normalize("Crème\u00adBrûlée") == "cremebrulee"
    assert normalize("\u202eevil\u202c text") == "evil text"
    assert normalize("  many   spaces\n\tand lines ") == "many spaces and lines"
    assert normalize("STRASSE Straße") == "strasse strasse"


def test_confusable_letters_fold_to_latin() -> None:
    assert fold("Раris") == "paris"  # Cyrillic Р and а
    assert fold("ΑΒΕΚΜΝΟΡΤΧ") == "abekmnoptx"  # Greek capitals
    assert fold("ɴᴜᴅᴇ") == "nude"  # small capitals
    assert fold("🇳🇺🇩🇪") == "nude"  # regional indicators
    assert fold("𝓷𝓾𝓭𝓮 𝐍𝐔𝐃𝐄") == "nude nude"  # mathematical letters (NFKC)
    assert fold("ⓝⓤⓓⓔ") == "nude"  # circled letters (NFKC)


def test_raw_form_keeps_case_but_drops_invisible_characters() -> None:
    assert raw_form("Barack\u200b Obama") == "Barack Obama"
    assert raw_form("＠everyone") == "@everyone"


def test_leetspeak_is_undone_only_inside_words_that_mix_letters_and_digits() -> None:
    view = analyse("s3x p0rn k1ll n1pp1e").views[0]
    assert view.alts[0] == ("sex",)
    assert "porn" in view.alts[1]
    assert "kill" in view.alts[2]
    assert "nipple" in view.alts[3]  # 1 read as i in one place and l in the other
    plain = analyse("4 dogs in 1920 and 2024").views[0]
    assert plain.alts == {}


def test_leet_symbols_and_separators_inside_words_build_a_joined_view() -> None:
    analysis = analyse("p@rn and n.u.d.e and pika-chu")
    joined = analysis.views[1].token_set()
    assert {"pikachu", "nude"} <= joined
    assert "parn" in joined  # "@" is an a


def test_spaced_letters_collapse_into_runs() -> None:
    assert "pikachu" in analyse("p i k a c h u dancing").runs
    assert "nude" in analyse("n. u. d. e woman").runs
    assert "pikachu" in analyse("p 1 k 4 c h u").runs


@pytest.mark.parametrize("text", ["a cat is at home", "I am a big fan", "plan B: a quiet cabin", "a 3d render", "x y"])
def test_ordinary_single_letters_do_not_form_runs_that_match(text: str) -> None:
    assert check_prompt(text).allowed


def test_a_lone_article_is_not_a_run() -> None:
    assert analyse("a cat is at home and I am a fan").runs == []


def test_stretched_letters_are_squeezed() -> None:
    view = analyse("nuuuude").views[0]
    assert "nude" in view.alts[0]


def test_masked_letters_are_collected() -> None:
    assert analyse("a p*rn site").masked == ["p*rn"]
    assert analyse("**bold** text").masked == []


def test_tokens_of_matches_prompt_tokenization() -> None:
    assert tokens_of("Spider-Man's hat") == ["spider", "man", "s", "hat"]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("a n.a.k.e.d woman", "sexual"),
        ("a n a k e d woman", "sexual"),
        ("nak3d man", "sexual"),
        ("a n4k3d man", "sexual"),
        ("Ｎａｋｅｄ woman", "sexual"),
        ("nа\u200bked woman", "sexual"),  # Cyrillic а and a zero-width space
        ("naaaaked woman", "sexual"),
        ("a n*ked woman", "sexual"),
        ("p i k a c h u", "copyright_character"),
        ("a p i k a c h u plush", "copyright_character"),  # the article joins the run; still found inside it
        ("P1kachu", "copyright_character"),
        ("Ρikachu", "copyright_character"),  # Greek capital rho
        ("h1tl3r", "real_people"),
        ("0bama", "real_people"),
        ("T r u m p at a rally", "real_people"),
        ("n!gg3r", "hate"),
        ("k.k.k rally", "hate"),
        ("$ u i c i d e", "self_harm"),
    ],
)
def test_evasions_are_caught(text: str, category: str) -> None:
    verdict = check_prompt(text)
    assert not verdict.allowed, text
    assert verdict.category == category


@pytest.mark.parametrize(
    "text",
    [
        "Scunthorpe at dawn",
        "the Essex countryside",
        "Middlesex and Sussex",
        "a cocktail party",
        "shooting a film on location",
        "an assassin in a hood",
        "a therapist's office",
        "a 4k drone shot of a 1920s jazz club",
        "4 dogs, 3 cats and 1 horse",
        "a classic cassette tape",
        "a chimney sweep dancing on rooftops",
        "the analysis of grapes",
        "a sexton ringing church bells",
        "a butt of a rifle in a museum",
        "hello world in 8-bit style",
        "a 3d render of a cute robot",
        "a Mount Everest expedition",
    ],
)
def test_word_boundaries_prevent_scunthorpe_problems(text: str) -> None:
    verdict = check_prompt(text)
    assert verdict.allowed, (text, verdict.rule)
