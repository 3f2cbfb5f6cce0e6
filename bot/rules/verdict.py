"""The result every check returns, the stable category names and the default member-facing reasons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["CATEGORIES", "CATEGORY_ORDER", "REASONS", "Verdict"]

# Prompt categories in order of severity: when one prompt breaks several rules, the verdict names
# the first category in this order (a sexual prompt about a public figure is reported as sexual).
CATEGORY_ORDER: tuple[str, ...] = (
    "minors",
    "sexual",
    "self_harm",
    "hate",
    "violence",
    "real_people",
    "copyright_character",
    "copyright_music",
    "brand",
    "guild_rule",
    "moderation",
)

CATEGORIES: frozenset[str] = frozenset({*CATEGORY_ORDER, "image_type", "image_size", "image_face"})

# One sentence per category, shown to the member.  None repeats what the member wrote.
REASONS: dict[str, str] = {
    "minors": "Content that sexualizes minors is never allowed.",
    "sexual": "Sexual content, nudity and sexually suggestive scenes can't be generated.",
    "self_harm": (
        "Content that depicts or encourages suicide or self-harm can't be generated. If you're struggling, "
        "please reach out to someone you trust or a local crisis line."
    ),
    "hate": "Hate symbols, slurs and content that attacks people for who they are can't be generated.",
    "violence": (
        "Graphic violence, gore and real-world atrocities can't be generated. Action scenes are fine without "
        "the graphic detail."
    ),
    "real_people": "Prompts that depict real people — including public figures — can't be generated.",
    "copyright_character": (
        "Copyrighted characters and franchises can't be generated. Try describing an original character instead."
    ),
    "copyright_music": (
        "Copyrighted songs and music by well-known artists can't be used. Describe the mood or genre instead."
    ),
    "brand": "Brand names, logos and trademarked products can't be generated. Describe a generic product instead.",
    "guild_rule": "This server's moderators don't allow that in prompts.",
    "moderation": "The safety check flagged this prompt, so it can't be generated.",
    "image_type": "Reference images must be PNG, JPEG or WebP files.",
    "image_size": "That reference image is too large or has unusable dimensions.",
    "image_face": "Reference images that show human faces can't be used.",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a prompt or image may be generated.

    ``reason`` is one sentence for the member and never quotes what they wrote; ``rule`` identifies the
    rule that fired (``"pack:real_people:public_figures"``, ``"guild:term:42"``) for moderators and the
    audit log, and is never shown to the member.
    """

    allowed: bool
    category: str | None = None
    reason: str = ""
    rule: str | None = None

    _OK: ClassVar[Verdict]

    @classmethod
    def ok(cls) -> Verdict:
        """The verdict for an acceptable prompt or image."""
        return cls._OK

    @classmethod
    def refuse(cls, category: str, reason: str | None = None, rule: str | None = None) -> Verdict:
        """A refusal in ``category`` with the category's default reason unless one is given."""
        return cls(False, category, reason or REASONS.get(category, "This request can't be generated."), rule)


Verdict._OK = Verdict(True, None, "", None)
