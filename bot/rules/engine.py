"""The matcher behind :func:`bot.rules.check_prompt`: rule packs compiled once into a token index.

A pack (``packs/*.toml``) holds rules of four kinds:

* ``terms`` — words and phrases matched on whole normalized tokens.  The last word of a phrase also
  matches its regular inflections (``behead`` → ``beheads``, ``beheaded``, ``beheading``), unless the
  term starts with ``=``.  Phrases also match written as one word ("spider man" → "spiderman").
* ``regex`` — patterns over the normalized token string (lower case, single spaces, no punctuation),
  optionally only tried when one of the ``when_any`` tokens is present (keeps the engine fast).
* ``raw_regex`` — patterns over the text as typed (NFKC, invisible characters removed, case kept), for
  Discord mentions.
* ``named_person`` — "photo of Firstname Lastname" with a capitalized, commonly used first name.

A rule is ``mode = "block"`` (the default: refuses on its own) or ``mode = "context"`` (only counts
towards a ``[[combo]]``, which refuses when every one of its selectors has a hit).  ``allow`` phrases
neutralize any term found entirely inside them ("maine coon" cat, "trump card").

Matching a prompt is a dictionary lookup per token and view plus the few regexes whose trigger words
occur, so a typical prompt costs a few tens of microseconds.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from bot.rules.normalize import Analysis, View, tokens_of
from bot.rules.verdict import CATEGORIES, CATEGORY_ORDER, REASONS, Verdict

__all__ = ["PackError", "RuleInfo", "RuleSet", "TermIndex", "builtin_rules", "inflections", "load_packs"]

ALLOW = -1  # allow phrases use refs ALLOW - group: they only neutralize terms of their own group (pack)
_VOWELS = frozenset("aeiou")
_SEVERITY = {category: rank for rank, category in enumerate(CATEGORY_ORDER)}


class PackError(ValueError):
    """A rule pack file is malformed."""


# --- terms ------------------------------------------------------------------------------------


def inflections(word: str) -> set[str]:
    """Regular English inflections of ``word`` (plural, past, -ing, -er), including the word itself."""
    forms = {word}
    if len(word) < 3 or not word.isalpha() or not word.isascii():
        return forms
    forms.update((word + "s", word + "es", word + "ed", word + "ing", word + "er", word + "ers"))
    if word.endswith("e"):
        forms.update((word + "d", word + "r", word + "rs", word[:-1] + "ing"))
    if word.endswith("y") and word[-2] not in _VOWELS:
        forms.update((word[:-1] + "ies", word[:-1] + "ied"))
    if word[-1] not in _VOWELS and word[-1] not in "wxy" and word[-2] in _VOWELS and word[-3] not in _VOWELS:
        doubled = word + word[-1]
        forms.update((doubled + "ing", doubled + "ed", doubled + "er", doubled + "ers"))
    return forms


def term_forms(term: str) -> list[tuple[str, ...]]:
    """Every token sequence ``term`` matches.

    The last word is inflected unless the term starts with ``=``; any other word marked with a trailing
    ``~`` is inflected too ("blow~ his brains out" → "blows / blowing / blowed his brains out").
    """
    exact = term.startswith("=")
    words = (term[1:] if exact else term).split()
    slots: list[list[str]] = []
    for i, word in enumerate(words):
        marked = word.endswith("~")
        tokens = tokens_of(word.rstrip("~"))
        if not tokens:
            continue
        inflect = marked or (not exact and i == len(words) - 1)
        slots.extend([t] for t in tokens[:-1])
        slots.append(sorted(inflections(tokens[-1])) if inflect else [tokens[-1]])
    if not slots:
        return []
    forms: list[tuple[str, ...]] = []
    for form in itertools.product(*slots):
        forms.append(form)
        if len(form) > 1 and len("".join(form)) >= 5:
            forms.append(("".join(form),))
    return forms


class TermIndex:
    """Token sequences → rule references, searched token by token (an Aho–Corasick on words)."""

    def __init__(self) -> None:
        # A trie over tokens: each node maps the next token to a child node; the key "" holds the rule
        # references of the phrases that end there.  Walking it costs one lookup per matched token, so a
        # common first word ("the", "a", "in") is cheap however many phrases start with it.
        self.trie: dict[str, Any] = {}
        self.squashed: dict[str, set[int]] = {}
        self.single_by_length: dict[int, list[tuple[str, int]]] = {}
        self.group: dict[int, int] = {}
        self.vocabulary: set[str] = set()  # every token any term uses
        self._lengths: list[int] = []
        self._seen: set[tuple[tuple[str, ...], int]] = set()

    def add(self, term: str, ref: int, *, maskable: bool = False, group: int = 0) -> int:
        """Index ``term`` for rule ``ref`` (in allow-``group``); returns how many token sequences were added."""
        self.group[ref] = group
        added = 0
        for form in term_forms(term):
            if (form, ref) in self._seen:
                continue
            self._seen.add((form, ref))
            self.vocabulary.update(form)
            node = self.trie
            for token in form:
                node = node.setdefault(token, {})
            node.setdefault("", []).append(ref)
            added += 1
            if ref >= 0:
                self.squashed.setdefault("".join(form), set()).add(ref)
                if maskable and len(form) == 1 and len(form[0]) >= 3:
                    self.single_by_length.setdefault(len(form[0]), []).append((form[0], ref))
        return added

    def finish(self) -> None:
        self._lengths = sorted({len(k) for k in self.squashed if len(k) >= 4})
        self._seen.clear()

    def scan_view(self, view: View) -> set[int]:
        alts = view.alts
        if alts:
            # Keep only spellings some term uses ("4k" → "ak" never matters): usually none are left.
            vocabulary = self.vocabulary
            useful = {}
            for i, spellings in alts.items():
                kept = tuple(s for s in spellings if s in vocabulary)
                if kept:
                    useful[i] = kept
            alts = useful
        if not alts:
            return self._scan_plain(view.tokens)
        tokens = view.tokens
        n = len(tokens)
        hits: list[tuple[int, int, int]] = []

        def walk(node: dict[str, Any], start: int, j: int) -> None:
            refs = node.get("")
            if refs:
                hits.extend((start, j, ref) for ref in refs)
            if j < n:
                for spelling in (tokens[j], *alts[j]) if j in alts else (tokens[j],):
                    child = node.get(spelling)
                    if child is not None:
                        walk(child, start, j + 1)

        for i in range(n):
            walk(self.trie, i, i)
        return self._resolve(hits)

    def _scan_plain(self, tokens: list[str]) -> set[int]:
        """:meth:`scan_view` for the common case of a view without alternative spellings."""
        trie = self.trie
        hits: list[tuple[int, int, int]] = []
        n = len(tokens)
        for i, token in enumerate(tokens):
            node = trie.get(token)
            j = i + 1
            while node is not None:
                refs = node.get("")
                if refs:
                    hits.extend((i, j, ref) for ref in refs)
                if j >= n:
                    break
                node = node.get(tokens[j])
                j += 1
        if not hits:
            return set()
        return self._resolve(hits)

    def _resolve(self, hits: list[tuple[int, int, int]]) -> set[int]:
        """The rule references hit, minus those inside an allow phrase of their own group."""
        if not hits:
            return set()
        allowed = [(s, e, ALLOW - ref) for s, e, ref in hits if ref < 0]
        if not allowed:
            return {ref for _, _, ref in hits}
        group = self.group
        return {
            ref
            for s, e, ref in hits
            if ref >= 0 and not any(a <= s and e <= b and g == group.get(ref, 0) for a, b, g in allowed)
        }

    def scan_run(self, run: str) -> set[int]:
        """Terms inside a collapsed run of spaced letters: the whole run, or any term of 4+ letters in it."""
        found = set(self.squashed.get(run, ()))
        if len(run) >= 4 and run[0] in "ai":  # "a k k k rally": the article joins the run
            found.update(self.squashed.get(run[1:], ()))
        size = len(run)
        for length in self._lengths:
            if length > size:
                break
            for i in range(size - length + 1):
                refs = self.squashed.get(run[i : i + length])
                if refs:
                    found |= refs
        return found

    def scan_masked(self, token: str) -> set[int]:
        """``p*rn``-style tokens: each asterisk stands for exactly one letter."""
        found: set[int] = set()
        for word, ref in self.single_by_length.get(len(token), ()):
            if all(t == "*" or t == w for t, w in zip(token, word, strict=True)):
                found.add(ref)
        return found

    def scan(self, analysis: Analysis) -> set[int]:
        found: set[int] = set()
        for view in analysis.views:
            found |= self.scan_view(view)
        for run in analysis.runs:
            found |= self.scan_run(run)
        for token in analysis.masked:
            found |= self.scan_masked(token)
        return found


# --- packs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    category: str
    reason: str
    blocking: bool


@dataclass(slots=True)
class _RegexRule:
    ref: int
    pattern: re.Pattern[str]
    when_any: frozenset[str] | None
    requires: frozenset[int] | None = None  # only tried when one of these rules already hit
    contains: re.Pattern[str] | None = None  # raw regexes: only tried when the text contains one of these
    contains_literal: str | None = None  # the only when_contains literal, tested with ``in`` (cheaper)
    contains_upper: bool = False  # every literal has a capital: an all-lower-case text cannot contain one


@dataclass(slots=True)
class _NamedPerson:
    ref: int
    pattern: re.Pattern[str]
    lead_words: frozenset[str]
    hint: re.Pattern[str]
    first_names: frozenset[str]
    not_names: frozenset[str]
    not_second: frozenset[str]
    link_words: frozenset[str] = frozenset()


@dataclass(slots=True)
class RuleSet:
    """Compiled rule packs: a term index, a few regexes and the combinations."""

    rules: list[RuleInfo] = field(default_factory=list)
    index: TermIndex = field(default_factory=TermIndex)
    regexes: list[_RegexRule] = field(default_factory=list)
    raw_regexes: list[_RegexRule] = field(default_factory=list)
    named: list[_NamedPerson] = field(default_factory=list)
    combos: list[tuple[int, list[frozenset[int]]]] = field(default_factory=list)
    term_count: int = 0
    packs: int = 0
    _triggers: dict[str, list[int]] = field(default_factory=dict)  # trigger word → positions in ``regexes``
    _always: list[int] = field(default_factory=list)  # regexes without trigger words
    _pending_requires: list[tuple[int, list[str], str]] = field(default_factory=list)
    _trigger_words: frozenset[str] = frozenset()
    _combos_by_ref: dict[int, list[int]] = field(default_factory=dict)
    # raw regexes grouped by their shared when_contains, so the literal test runs once per group
    _raw_groups: list[tuple[_RegexRule, list[_RegexRule]]] = field(default_factory=list)

    def index_triggers(self) -> None:
        """Build the lookups that decide, per prompt, which regexes and combos are worth trying."""
        self._triggers, self._always = {}, []
        for position, rule in enumerate(self.regexes):
            if rule.when_any is None:
                self._always.append(position)
            else:
                for word in rule.when_any:
                    self._triggers.setdefault(word, []).append(position)
        self._trigger_words = frozenset(self._triggers)
        self._raw_groups = []
        for rule in self.raw_regexes:
            if self._raw_groups and rule.contains is not None and self._raw_groups[-1][0].contains is rule.contains:
                self._raw_groups[-1][1].append(rule)
            else:
                self._raw_groups.append((rule, [rule]))
        self._combos_by_ref = {}
        for position, (_, selectors) in enumerate(self.combos):
            for ref in selectors[0]:  # a combo needs its first selector, so it is indexed by that one
                self._combos_by_ref.setdefault(ref, []).append(position)

    def hits(self, analysis: Analysis) -> set[int]:
        """Every rule (blocking, context or combo) that ``analysis`` triggers."""
        found = self.index.scan(analysis)
        if self.regexes:
            candidates = set(self._always)
            triggers = self._triggers
            for token in self._trigger_words.intersection(analysis.token_set()):
                candidates.update(triggers[token])
            texts: list[str] | None = None
            for position in sorted(candidates):
                rule = self.regexes[position]
                if rule.ref in found or (rule.requires is not None and rule.requires.isdisjoint(found)):
                    continue
                if texts is None:
                    texts = _view_texts(analysis.views)
                if any(rule.pattern.search(text) for text in texts):
                    found.add(rule.ref)
        raw = analysis.raw
        for first, group in self._raw_groups:
            contains = first.contains
            if contains is not None:
                if first.contains_literal is not None:
                    if first.contains_literal not in raw:
                        continue
                elif (first.contains_upper and raw.islower()) or contains.search(raw) is None:
                    continue
            for rule in group:
                if rule.pattern.search(raw):
                    found.add(rule.ref)
        if self.named:
            plain = analysis.views[0].tokens
            for named in self.named:
                if (
                    not named.lead_words.isdisjoint(plain)
                    and _lead_then_link(named, plain)
                    and _named_person(named, analysis.folded, analysis.raw)
                ):
                    found.add(named.ref)
        if found:
            combos_by_ref = self._combos_by_ref
            positions = {position for ref in found if ref in combos_by_ref for position in combos_by_ref[ref]}
            for position in sorted(positions):
                ref, selectors = self.combos[position]
                if all(not selector.isdisjoint(found) for selector in selectors):
                    found.add(ref)
        return found

    def check(self, analysis: Analysis) -> Verdict:
        found = self.hits(analysis)
        best: RuleInfo | None = None
        best_key = (len(CATEGORY_ORDER), 0)
        for ref in found:
            info = self.rules[ref]
            if not info.blocking:
                continue
            key = (_SEVERITY.get(info.category, len(CATEGORY_ORDER)), ref)
            if key < best_key:
                best, best_key = info, key
        if best is None:
            return Verdict.ok()
        return Verdict(False, best.category, best.reason, best.id)


def _view_texts(views: Sequence[View]) -> list[str]:
    texts: list[str] = []
    for view in views:
        texts.append(view.text())
        alt = view.alt_text()
        if alt is not None:
            texts.append(alt)
    return texts


_TITLE_WORD_RE = re.compile(r"[A-Za-z][\w'-]*")


def _lead_then_link(rule: _NamedPerson, tokens: list[str]) -> bool:
    """A lead word directly followed by a link word ("photo of"): needed for the hint, and far cheaper to test."""
    link, last = rule.link_words, len(tokens) - 1
    for word in rule.lead_words.intersection(tokens):
        position = -1
        while True:
            try:
                position = tokens.index(word, position + 1)
            except ValueError:
                break
            if position < last and tokens[position + 1] in link:
                return True
    return False


def _named_person(rule: _NamedPerson, folded: str, raw: str) -> bool:
    if rule.hint.search(folded) is None:  # "photo of", "video with", ... somewhere in the prompt
        return False
    for match in rule.pattern.finditer(raw):
        first, second = match.group(1).lower(), match.group(2).lower()
        if first not in rule.first_names or second in rule.not_second or second.endswith("ing"):
            continue
        if f"{first} {second}" in rule.not_names:
            continue
        words = _TITLE_WORD_RE.findall(raw)
        capitalized = sum(1 for w in words if w[0].isupper())
        if len(words) >= 6 and capitalized / len(words) > 0.6:
            continue  # Title Case Prompt: capitals carry no information
        return True
    return False


def _strings(table: dict[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PackError(f"{where}: {key} must be a list of strings")
    return value


_RULE_KEYS = frozenset(
    {
        "id",
        "mode",
        "category",
        "reason",
        "kind",
        "terms",
        "regex",
        "when_any",
        "maskable",
        "case_sensitive",
        "lead_words",
        "link_words",
        "first_names",
        "not_names",
        "not_second_words",
        "requires",
        "when_contains",
    }
)
_PACK_KEYS = frozenset({"category", "reason", "allow", "rule", "combo"})


_MACRO_RE = re.compile(r"\{terms:([\w-]+)\}")


def _expand_terms(pattern: str, pack_terms: dict[str, list[str]], where: str) -> str:
    """Replace ``{terms:RULE}`` by an alternation of that (earlier) rule's terms as normalized token strings."""

    def alternation(match: re.Match[str]) -> str:
        rule = match.group(1)
        if rule not in pack_terms:
            raise PackError(f"{where}: {{terms:{rule}}} must name an earlier rule of the same pack")
        forms = {" ".join(form) for term in pack_terms[rule] for form in term_forms(term)}
        return "(?:" + "|".join(re.escape(f) for f in sorted(forms, key=lambda f: (-len(f), f))) + ")"

    return _MACRO_RE.sub(alternation, pattern)


def _trigger(table: dict[str, Any], where: str) -> frozenset[str] | None:
    """The ``when_any`` words of a rule or pattern, normalized like prompt tokens (None: always try)."""
    if "when_any" not in table:
        return None
    return frozenset(t for word in _strings(table, "when_any", where) for t in tokens_of(word))


def _compile_pack(ruleset: RuleSet, name: str, data: dict[str, Any], combos: list[tuple[str, dict[str, Any]]]) -> None:
    unknown = set(data) - _PACK_KEYS
    if unknown:
        raise PackError(f"pack {name}: unknown top-level keys {sorted(unknown)}")
    category = data.get("category")
    if category not in CATEGORIES:
        raise PackError(f"pack {name}: category {category!r} is not one of {sorted(CATEGORIES)}")
    pack_reason = data.get("reason") or REASONS[category]
    ruleset.packs += 1
    group = ruleset.packs
    rules = data.get("rule", [])
    if not isinstance(rules, list):
        raise PackError(f"pack {name}: [[rule]] must be an array of tables")
    seen: set[str] = set()
    pack_terms: dict[str, list[str]] = {}
    for table in rules:
        rule_id = table.get("id")
        where = f"pack {name}, rule {rule_id!r}"
        unknown = set(table) - _RULE_KEYS
        if unknown:
            raise PackError(f"{where}: unknown keys {sorted(unknown)} (top-level keys must come before [[rule]])")
        if not isinstance(rule_id, str) or not rule_id or rule_id in seen:
            raise PackError(f"{where}: every rule needs a unique string id")
        seen.add(rule_id)
        mode = table.get("mode", "block")
        if mode not in ("block", "context"):
            raise PackError(f"{where}: mode must be 'block' or 'context'")
        rule_category = table.get("category", category)
        if rule_category not in CATEGORIES:
            raise PackError(f"{where}: unknown category {rule_category!r}")
        ref = len(ruleset.rules)
        ruleset.rules.append(
            RuleInfo(f"pack:{name}:{rule_id}", rule_category, table.get("reason") or pack_reason, mode == "block")
        )
        kind = table.get("kind", "terms")
        if kind == "terms":
            terms = _strings(table, "terms", where)
            patterns = table.get("regex", [])
            if not isinstance(patterns, list):
                raise PackError(f"{where}: regex must be a list")
            if not terms and not patterns:
                raise PackError(f"{where}: needs terms or regex")
            maskable = bool(table.get("maskable", False))
            for term in terms:
                if not ruleset.index.add(term, ref, maskable=maskable, group=group) and not term_forms(term):
                    raise PackError(f"{where}: term {term!r} has no letters or digits")
                ruleset.term_count += 1
            pack_terms[rule_id] = terms
            default_trigger = _trigger(table, where)
            for item in patterns:
                # Each item is a pattern, or { re = '...', when_any = [...] } with its own trigger words.
                pattern, trigger = item, default_trigger
                if isinstance(item, dict):
                    pattern, trigger = item.get("re"), _trigger(item, where)
                if not isinstance(pattern, str):
                    raise PackError(f"{where}: every regex must be a string or a table with 're'")
                pattern = _expand_terms(pattern, pack_terms, where)
                if "requires" in table:
                    ruleset._pending_requires.append((len(ruleset.regexes), _strings(table, "requires", where), where))
                try:
                    ruleset.regexes.append(_RegexRule(ref, re.compile(pattern), trigger))
                except re.error as exc:
                    raise PackError(f"{where}: bad regex {pattern!r}: {exc}") from exc
        elif kind == "raw_regex":
            flags = 0 if table.get("case_sensitive", True) else re.IGNORECASE
            literals = _strings(table, "when_contains", where)
            contains = re.compile("|".join(re.escape(x) for x in literals)) if literals else None
            literal = literals[0] if len(literals) == 1 else None
            upper = bool(literals) and all(x != x.lower() for x in literals)
            for pattern in _strings(table, "regex", where):
                try:
                    ruleset.raw_regexes.append(
                        _RegexRule(ref, re.compile(pattern, flags), None, None, contains, literal, upper)
                    )
                except re.error as exc:
                    raise PackError(f"{where}: bad regex {pattern!r}: {exc}") from exc
        elif kind == "named_person":
            lead = "|".join(re.escape(w) for w in _strings(table, "lead_words", where))
            link = "|".join(re.escape(w) for w in _strings(table, "link_words", where))
            pattern = re.compile(
                rf"(?i:\b(?:{lead})s?\s+(?:{link})\s+(?:(?:the|a)\s+)?(?:(?:real|actual|famous|real-life)\s+)?)"
                r"([A-Z][a-z]+)\s+(?:[A-Z]\.\s+)?((?:Mc|Mac|O'|D')?[A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b"
            )
            lead_tokens = frozenset(
                form
                for word in _strings(table, "lead_words", where)
                for token in tokens_of(word)[-1:]
                for form in (token, token + "s")
            )
            hint = re.compile(rf"\b(?:{lead})s?\s+(?:{link})\b")
            ruleset.named.append(
                _NamedPerson(
                    ref,
                    pattern,
                    lead_tokens,
                    hint,
                    frozenset(n.lower() for n in _strings(table, "first_names", where)),
                    frozenset(" ".join(tokens_of(n)) for n in _strings(table, "not_names", where)),
                    frozenset(n.lower() for n in _strings(table, "not_second_words", where)),
                    frozenset(t for word in _strings(table, "link_words", where) for t in tokens_of(word)),
                )
            )
        else:
            raise PackError(f"{where}: unknown kind {kind!r}")
    for phrase in _strings(data, "allow", f"pack {name}"):
        ruleset.index.add(phrase, ALLOW - group, group=group)
    for table in data.get("combo", []):
        combos.append((name, {"category": category, "reason": pack_reason, **table}))


def _resolve_selector(ruleset: RuleSet, selector: str, where: str) -> frozenset[int]:
    refs: set[int] = set()
    for part in selector.split("|"):
        part = part.strip()
        pack, _, rule = part.partition(":")
        matched = [
            ref
            for ref, info in enumerate(ruleset.rules)
            if info.id.split(":")[1] == pack and (info.id.split(":")[2] == rule if rule else info.blocking)
        ]
        if not matched:
            raise PackError(f"{where}: selector {part!r} matches no rule")
        refs.update(matched)
    return frozenset(refs)


def load_packs(sources: Iterable[tuple[str, str]]) -> RuleSet:
    """Compile packs given as ``(name, toml_text)`` pairs."""
    ruleset = RuleSet()
    combos: list[tuple[str, dict[str, Any]]] = []
    for name, text in sources:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PackError(f"pack {name}: {exc}") from exc
        _compile_pack(ruleset, name, data, combos)
    for name, table in combos:
        combo_id = table.get("id")
        where = f"pack {name}, combo {combo_id!r}"
        selectors = table.get("all")
        if not isinstance(combo_id, str) or not isinstance(selectors, list) or len(selectors) < 2:
            raise PackError(f"{where}: a combo needs an id and at least two selectors in 'all'")
        resolved = [_resolve_selector(ruleset, s, where) for s in selectors]
        ref = len(ruleset.rules)
        ruleset.rules.append(RuleInfo(f"pack:{name}:{combo_id}", table["category"], table["reason"], True))
        ruleset.combos.append((ref, resolved))
    ids = {info.id: ref for ref, info in enumerate(ruleset.rules)}
    for position, names, where in ruleset._pending_requires:
        missing = [name for name in names if f"pack:{name}" not in ids]
        if missing:
            raise PackError(f"{where}: requires unknown rules {missing} (write them as 'pack:rule')")
        ruleset.regexes[position].requires = frozenset(ids[f"pack:{name}"] for name in names)
    ruleset._pending_requires.clear()
    ruleset.index_triggers()
    ruleset.index.finish()
    return ruleset


def pack_sources(directory: Path | None = None) -> list[tuple[str, str]]:
    """The built-in packs (or the ``*.toml`` files in ``directory``) as ``(name, text)`` pairs."""
    if directory is not None:
        return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.toml"))]
    root = resources.files("bot.rules") / "packs"
    entries = sorted((e for e in root.iterdir() if e.name.endswith(".toml")), key=lambda e: e.name)
    return [(e.name.removesuffix(".toml"), e.read_text(encoding="utf-8")) for e in entries]


@lru_cache(maxsize=1)
def builtin_rules() -> RuleSet:
    """The built-in packs, compiled on first use and cached for the life of the process."""
    return load_packs(pack_sources())
