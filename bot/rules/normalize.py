"""Text normalization against evasion, shared by the rule packs, guild rules and the tests.

Everything a prompt goes through before matching, in order:

1. Unicode NFKC (full-width letters, ligatures, circled and mathematical letters become plain ones)
   and case folding.  ASCII prompts — nearly all of them — skip the Unicode steps entirely.
2. Canonical decomposition, then one ``str.translate`` that deletes combining marks (accents,
   variation selectors), format characters (zero-width spaces and joiners, bidirectional controls,
   soft hyphens, tag characters) and folds look-alike letters (Cyrillic, Greek, Armenian, small
   capitals, regional indicators, ...) to Latin.
3. Tokenization into words on Unicode word characters.  Matching works on whole tokens, so word
   boundaries come for free: "Scunthorpe", "Essex" and "cocktail" are single tokens that contain,
   but are not, a listed word.

On top of the plain token list, :func:`analyse` derives the extra views the matcher needs to see
through common evasions, each built only when the text has the feature it undoes:

* **leetspeak** (``0→o 1→i/l 3→e 4→a 5→s 7→t 8→b 9→g @→a $→s !→i |→i/l +→t €→e``) is applied
  only *inside* tokens that mix letters with digits or symbols.  Pure numbers are never touched,
  so "4 dogs", "1920s" (→ "ig2os", which matches nothing) and "4k" stay harmless.
* **joined words**: separators *inside* a word (``n.u.d.e``, ``pika-chu``, ``p_o_r_n``) are removed
  in a second view.  Multi-word terms are also compiled in a joined form ("spider man" →
  "spiderman") so "spider-man" matches either way.
* **spaced letters**: a run of at least three single characters separated by spaces or punctuation
  ("p i k a c h u", "n. u. d. e") is collapsed into one string and searched separately.  A lone
  article or pronoun never forms such a run, so "a cat is at home" is untouched.
* **stretched letters**: a letter repeated three or more times ("nuuuude") also yields the token
  with that run squeezed to one and to two letters.
* **masked letters**: ``p*rn``-style tokens are compared against listed single words of the same
  length, one letter per asterisk.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["Analysis", "analyse", "fold", "normalize", "raw_form", "tokens_of"]

# --- character tables --------------------------------------------------------------------------

# Look-alike letters, keyed by the *case-folded* character (fold() casefolds before translating).
_CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a",
    "б": "b",
    "в": "b",
    "с": "c",
    "ԁ": "d",
    "е": "e",
    "ё": "e",
    "є": "e",
    "ғ": "f",
    "һ": "h",
    "н": "h",
    "і": "i",
    "ї": "i",
    "ӏ": "l",
    "ј": "j",
    "к": "k",
    "қ": "k",
    "м": "m",
    "о": "o",
    "ө": "o",
    "р": "p",
    "ԛ": "q",
    "г": "r",
    "ѕ": "s",
    "т": "t",
    "у": "y",
    "ү": "y",
    "х": "x",
    "ԝ": "w",
    "ш": "w",
    "ь": "b",
    "п": "n",
    # Greek
    "α": "a",
    "β": "b",
    "γ": "y",
    "δ": "d",
    "ε": "e",
    "ζ": "z",
    "η": "n",
    "θ": "o",
    "ι": "i",
    "κ": "k",
    "λ": "l",
    "μ": "u",
    "ν": "v",
    "ο": "o",
    "π": "n",
    "ρ": "p",
    "σ": "o",
    "ς": "s",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ϲ": "c",
    "ϳ": "j",
    # Armenian
    "օ": "o",
    "ս": "u",
    "հ": "h",
    "ո": "n",
    "ց": "g",
    "զ": "q",
    "ա": "w",
    # Latin look-alikes and letters without a decomposition
    "ı": "i",
    "ȷ": "j",
    "ł": "l",
    "ŀ": "l",
    "ø": "o",
    "đ": "d",
    "ħ": "h",
    "ŧ": "t",
    "ƀ": "b",
    "ɑ": "a",
    "ɡ": "g",
    "ɩ": "i",
    "ɪ": "i",
    "ʟ": "l",
    "ɴ": "n",
    "ʀ": "r",
    "ʏ": "y",
    "ʙ": "b",
    "ʜ": "h",
    "ɢ": "g",
    "ǫ": "q",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
    "ð": "d",
    "ꞵ": "b",
    # small capitals (no NFKC mapping)
    "ᴀ": "a",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ꜰ": "f",
    "ᴊ": "j",
    "ᴋ": "k",
    "ᴍ": "m",
    "ᴏ": "o",
    "ᴘ": "p",
    "ꜱ": "s",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ᴢ": "z",
    # symbols that stand in for letters
    "¡": "i",
    "¢": "c",
    "£": "e",
    "¥": "y",
    "ß": "ss",
    "©": "c",
    "®": "r",
    "∂": "d",
    "ƒ": "f",
    # spaces that NFKC leaves alone
    "\u2800": " ",
    "\u3164": " ",
    "\uffa0": " ",
    "\u115f": " ",
    "\u1160": " ",
}

# Capitals whose lower-case form looks different (Greek Μ → μ looks like "u"): folded before case folding.
_CONFUSABLE_CAPITALS = str.maketrans(
    {
        "Α": "a",
        "Β": "b",
        "Ε": "e",
        "Ζ": "z",
        "Η": "h",
        "Ι": "i",
        "Κ": "k",
        "Μ": "m",
        "Ν": "n",
        "Ο": "o",
        "Ρ": "p",
        "Τ": "t",
        "Υ": "y",
        "Χ": "x",
        "А": "a",
        "В": "b",
        "Е": "e",
        "К": "k",
        "М": "m",
        "Н": "h",
        "О": "o",
        "Р": "p",
        "С": "c",
        "Т": "t",
        "У": "y",
        "Х": "x",
        "Ѕ": "s",
        "І": "i",
        "Ј": "j",
    }
)

# Format characters outside the BMP (tags, musical format controls, ...).
_SUPPLEMENTARY_DELETE = [
    (0x110BD, 0x110BD),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
    (0xE0100, 0xE01EF),
]


@lru_cache(maxsize=1)
def _unicode_table() -> dict[int, int | str | None]:
    """The translate table for non-ASCII text, built once on first use (a few milliseconds)."""
    table: dict[int, int | str | None] = {}
    for cp in range(0x80, 0x10000):
        if unicodedata.category(chr(cp)) in ("Mn", "Me", "Cf"):
            table[cp] = None
    for lo, hi in _SUPPLEMENTARY_DELETE:
        for cp in range(lo, hi + 1):
            table[cp] = None
    # Regional indicators and negative circled / squared capitals → a–z.
    for base in (0x1F1E6, 0x1F150, 0x1F170, 0x1F130):
        for i in range(26):
            table[base + i] = chr(ord("a") + i)
    for src, dst in _CONFUSABLES.items():
        table[ord(src)] = dst
    # ASCII control characters other than whitespace.
    for cp in range(0x20):
        if chr(cp) not in "\t\n\r":
            table[cp] = None
    table[0x7F] = None
    return table


_ASCII_CONTROLS = dict.fromkeys([*range(9), 11, 12, *range(14, 32), 127])

_LEET_I = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "i",
        "+": "t",
        "€": "e",
    }
)
_LEET_L = str.maketrans(
    {
        "0": "o",
        "1": "l",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
        "€": "e",
    }
)

_WORD_RE = re.compile(r"[^\W_]+")
# A token for the joined view: word characters plus the leet symbols.
_LEET_TOKEN_RE = re.compile(r"(?:[^\W_]|[@$!|+€])+")
# Separators inside a word.  "/" is deliberately absent ("and/or" must not become "andor").
_INTRA_SEP_RE = re.compile(r"(?<=[^\W_])[.\-_'’‘`*·•~^]+(?=[^\W_])")
# Leet symbols touching a word character, so the joined view is worth building.
_LEET_SYMBOL_RE = re.compile(r"[@$|+€!](?=[^\W_])|(?<=[^\W_])[@$|+€]")
# At least three single characters, each separated from the next by spaces or punctuation.
_RUN_RE = re.compile(r"(?<![\w@$|+€])(?:[^\W_]|[@$|+€])(?:[^\w@$|+€]+(?:[^\W_]|[@$|+€])(?![\w@$|+€])){2,}")
_RUN_SEP_RE = re.compile(r"[^\w@$|+€]+")
_TRIPLE_RE = re.compile(r"([^\W\d_])\1\1")
_TRIPLE_ASCII_RE = re.compile(r"([a-z])\1\1")
_SPECIAL_RE = re.compile(r"[.\-_'’‘`*·•~^@$|+€!]")
_ASCII_WORD_RE = re.compile(r"[a-z0-9]+")
_DIGIT_RE = re.compile(r"\d")
_RUN_HINT_RE = re.compile(r"\b\w\W+\w\b", re.ASCII)  # two single characters in a row (ASCII text only)
_ASCII_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LEET_CHAR_RE = re.compile(r"[@$|+€]")
_SQUEEZE1_RE = re.compile(r"([^\W\d_])\1+")
_SQUEEZE2_RE = re.compile(r"([^\W\d_])\1\1+")
_MASKED_RE = re.compile(r"(?<![\w*])[^\W_]*\*[\w*]*")
_SPACES_RE = re.compile(r"\s+")
_PIECES_RE = re.compile(r"\d+|[^\W\d_]+")


# --- public helpers ----------------------------------------------------------------------------


def fold(text: str) -> str:
    """Case-fold and de-confuse ``text`` without touching punctuation or spacing."""
    if text.isascii():
        lowered = text.lower()
        return lowered.translate(_ASCII_CONTROLS) if _ASCII_CONTROL_RE.search(lowered) else lowered
    folded = unicodedata.normalize("NFKC", text).translate(_CONFUSABLE_CAPITALS).casefold()
    return unicodedata.normalize("NFD", folded).translate(_unicode_table())


def normalize(text: str) -> str:
    """The canonical form of ``text`` that rules are matched against, with whitespace collapsed.

    >>> normalize("Ｐｉｋａ\u200bｃｈｕ  ÉTÉ")
    'pikachu ete'
    """
    return _SPACES_RE.sub(" ", fold(text)).strip()


def raw_form(text: str) -> str:
    """``text`` with NFKC applied and invisible characters removed, but case kept (for mentions and names)."""
    if text.isascii():
        return text
    nfkc = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in nfkc if unicodedata.category(ch) != "Cf")


def tokens_of(text: str) -> list[str]:
    """The plain word tokens of ``text`` after :func:`fold` (used to compile terms)."""
    return _WORD_RE.findall(fold(text))


# --- analysis ----------------------------------------------------------------------------------


@dataclass(slots=True)
class View:
    """A token list; ``alts`` maps a position to the other spellings that position may stand for."""

    tokens: list[str]
    alts: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def text(self) -> str:
        return " ".join(self.tokens)

    def alt_text(self) -> str | None:
        """The view with the first alternative spelling in each position (leetspeak undone), if any."""
        if not self.alts:
            return None
        return " ".join(self.alts[i][0] if i in self.alts else t for i, t in enumerate(self.tokens))

    def token_set(self) -> set[str]:
        """Every token and spelling, plus the letter and digit pieces of mixed tokens ("12yo" → "12", "yo")."""
        found = set(self.tokens)
        for i, spellings in self.alts.items():
            found.update(spellings)
            found.update(_PIECES_RE.findall(self.tokens[i]))
        return found


@dataclass(slots=True)
class Analysis:
    """Everything the matchers need from one prompt."""

    raw: str
    folded: str
    views: list[View]
    runs: list[str]
    masked: list[str]

    def token_set(self) -> set[str]:
        found: set[str] = set()
        for view in self.views:
            found |= view.token_set()
        return found


def _leet_spellings(token: str) -> tuple[str, ...]:
    """Leetspeak undone; "1" and "|" may be an i or an l, so up to three of them are tried both ways."""
    a = token.translate(_LEET_I)
    b = token.translate(_LEET_L)
    if a == b:
        return (a,)
    ambiguous = [i for i, c in enumerate(token) if c in "1|"]
    if len(ambiguous) > 3:
        return (a, b)
    out = dict.fromkeys((a, b))
    chars = list(a)
    for mask in range(1, 2 ** len(ambiguous) - 1):
        for bit, pos in enumerate(ambiguous):
            chars[pos] = "l" if mask >> bit & 1 else "i"
        out["".join(chars)] = None
    return tuple(out)


def _squeezed(token: str) -> tuple[str, ...]:
    two = _SQUEEZE2_RE.sub(r"\1\1", token)
    one = _SQUEEZE1_RE.sub(r"\1", token)
    return (two, one) if two != one else (two,)


def _alternatives(token: str, squeeze: bool) -> tuple[str, ...]:
    """Other spellings of ``token`` (excluding itself), or ``()``."""
    out: list[str] = []
    if not token.isalpha() and not token.isdigit() and any(c.isalpha() for c in token):
        out.extend(_leet_spellings(token))
    if squeeze:
        for spelling in out or [token]:
            if _TRIPLE_RE.search(spelling):
                out.extend(_squeezed(spelling))
    if not out:
        return ()
    seen = dict.fromkeys(s for s in out if s != token)
    return tuple(seen)


def _view(tokens: list[str], squeeze: bool) -> View:
    alts: dict[int, tuple[str, ...]] = {}
    for i, token in enumerate(tokens):
        if token.isalpha() and not squeeze:
            continue
        spellings = _alternatives(token, squeeze)
        if spellings:
            alts[i] = spellings
    return View(tokens, alts)


def _may_have_run(tokens: list[str], folded: str) -> bool:
    """Cheap pre-check for :data:`_RUN_RE`: two single-character tokens in a row (leet symbols split words)."""
    previous_single = False
    for token in tokens:
        single = len(token) == 1
        if single and previous_single:
            return True
        previous_single = single
    return _LEET_CHAR_RE.search(folded) is not None and any(len(t) == 1 for t in tokens)


def analyse(text: str) -> Analysis:
    """Fold ``text`` and build every view the matchers look at."""
    folded = fold(text)
    if folded.isascii():  # the common case, with cheaper regexes
        squeeze = _TRIPLE_ASCII_RE.search(folded) is not None
        plain = _ASCII_WORD_RE.findall(folded)
        views = [_view(plain, squeeze) if squeeze or _DIGIT_RE.search(folded) else View(plain)]
        may_run = _RUN_HINT_RE.search(folded) is not None
    else:
        squeeze = _TRIPLE_RE.search(folded) is not None
        plain = _WORD_RE.findall(folded)
        views = [_view(plain, squeeze)]
        may_run = _may_have_run(plain, folded)

    # The regexes below are slow-ish (lookarounds); a one-pass character check skips them for most prompts.
    if _SPECIAL_RE.search(folded) and (_INTRA_SEP_RE.search(folded) or _LEET_SYMBOL_RE.search(folded)):
        joined = _INTRA_SEP_RE.sub("", folded)
        tokens = [t.strip("!|") for t in _LEET_TOKEN_RE.findall(joined)]
        tokens = [t for t in tokens if t and any(c.isalnum() for c in t)]
        views.append(_view(tokens, squeeze))

    runs: list[str] = []
    if may_run:
        for match in _RUN_RE.finditer(folded):
            collapsed = _RUN_SEP_RE.sub("", match.group())[:64]
            if any(c.isalpha() for c in collapsed):
                runs.extend(dict.fromkeys((collapsed, *_leet_spellings(collapsed))))

    masked: list[str] = []
    if "*" in folded:
        for token in _MASKED_RE.findall(folded):
            token = token.strip("*")
            if "*" in token and sum(c.isalpha() for c in token) >= 2:
                masked.append(token.translate(_LEET_I))

    return Analysis(raw=raw_form(text), folded=folded, views=views, runs=runs, masked=masked)
