"""Read the teacher's tagged answers. A row whose answer does not parse is failed, with why."""

from __future__ import annotations

import re
from dataclasses import dataclass


class ParseError(ValueError):
    """The answer cannot be used; `str(error)` is the reason stored with the failed row."""


def extract_tag(text: str, tag: str) -> str:
    """The text between `[Start of TAG]` and `[End of TAG]`, tolerating chatter around the tags.

    When the tags appear twice, the first complete pair wins (teachers sometimes repeat the
    example they were shown after their own answer).
    """
    start, end = f"[Start of {tag}]", f"[End of {tag}]"
    opened = text.find(start)
    if opened < 0:
        raise ParseError(f"missing tag [Start of {tag}]")
    closed = text.find(end, opened + len(start))
    if closed < 0:
        raise ParseError(f"missing tag [End of {tag}]")
    value = text[opened + len(start):closed].strip()
    if not value:
        raise ParseError(f"empty {tag.lower()}")
    return value


@dataclass(frozen=True)
class Judgement:
    score: float
    explanation: str


def parse_judgement(text: str, allowed: tuple[float, ...]) -> Judgement:
    raw = extract_tag(text, "Score")
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*\d+)?\s*\.?", raw)
    if not match:
        raise ParseError(f"score did not parse: {raw[:40]!r}")
    score = float(match.group(1))
    if allowed and score not in allowed:
        raise ParseError(f"score {score:g} is not one of {', '.join(f'{a:g}' for a in allowed)}")
    try:
        explanation = extract_tag(text, "Evaluation")
    except ParseError:
        explanation = ""
    return Judgement(score, explanation)
