"""Read the teacher's tagged answers as a careful reader would; fail only what is really unusable.

Real teachers, small local ones above all, bend the `[Start of X]`/`[End of X]` format: they
write `[/End of Score]` or `[End Of Score]`, wrap tags in markdown emphasis, stop after the text
without the end tag, or answer `Score: 2` with no tags at all. Each of those is read; an answer
with no usable text keeps failing, and its `ParseError` says why (stored with the failed row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class ParseError(ValueError):
    """The answer cannot be used; `str(error)` is the reason stored with the failed row."""


def _words(tag: str) -> str:
    return r"\s+".join(re.escape(word) for word in tag.split())


def _start(tag: str) -> re.Pattern:
    return re.compile(rf"[*_#`]*\[\s*start\s+of\s+{_words(tag)}\s*\][*_`]*", re.IGNORECASE)


_ANY_START = re.compile(r"[*_#`]*\[\s*start\s+of\s+[^\]]{1,40}\]", re.IGNORECASE)


def _closing(tag: str) -> re.Pattern:
    end = _words(tag)
    return re.compile(rf"[*_`]*\[\s*/?\s*(?:end\s+of\s+{end}|{end})\s*\][*_`]*", re.IGNORECASE)


def extract_all(text: str, tag: str, *, stopped: bool = True) -> list[str]:
    """Every tagged value in order. Without an end tag a value runs to the next start tag, or
    (only when the answer `stopped` normally, not at max tokens) to the end of the answer."""
    start, closing = _start(tag), _closing(tag)
    values: list[str] = []
    position = 0
    problem = f"missing tag [Start of {tag}]"
    while True:
        opened = start.search(text, position)
        if not opened:
            break
        body_from = opened.end()
        closed = closing.search(text, body_from)
        next_start = _ANY_START.search(text, body_from)
        if closed and (not next_start or closed.start() <= next_start.start()):
            body, position = text[body_from:closed.start()], closed.end()
        elif next_start:
            body, position = text[body_from:next_start.start()], next_start.start()
        elif stopped:
            body, position = text[body_from:], len(text)
        else:
            problem = f"missing tag [End of {tag}] (the answer was cut off)"
            break
        body = body.strip()
        if body:
            values.append(body)
        else:
            problem = f"empty {tag.lower()}"
    if not values:
        raise ParseError(problem)
    return values


def extract_tag(text: str, tag: str, *, stopped: bool = True) -> str:
    """The first tagged value (teachers sometimes repeat their in-prompt example after their answer)."""
    return extract_all(text, tag, stopped=stopped)[0]


@dataclass(frozen=True)
class Judgement:
    score: float
    explanation: str


_NUMBER = r"(-?\d+(?:\.\d+)?)"
_SCORE_TEXT = re.compile(rf"^\W*{_NUMBER}\s*(?:/\s*\d+(?:\.\d+)?|out\s+of\s+\d+)?\W*$", re.IGNORECASE)
_SCORE_LINE = re.compile(rf"\bscore\W{{0,4}}(?:is\W{{0,3}})?{_NUMBER}\s*(?:/\s*\d+|out\s+of\s+\d+)?", re.IGNORECASE)


def parse_judgement(text: str, allowed: tuple[float, ...], *, stopped: bool = True) -> Judgement:
    """A score from the Score tag (`2`, `2/3`, `**2**`, `Score: 2`), else from a `Score: N` line."""
    try:
        raw = extract_tag(text, "Score", stopped=stopped)
        match = _SCORE_TEXT.match(raw) or _SCORE_LINE.search(raw)
        if not match:
            raise ParseError(f"score did not parse: {raw[:40]!r}")
    except ParseError as error:
        found = list(_SCORE_LINE.finditer(text))
        if not found:
            raise error
        match = found[-1]
    score = float(match.group(1))
    if allowed and score not in allowed:
        raise ParseError(f"score {score:g} is not one of {', '.join(f'{a:g}' for a in allowed)}")
    try:
        explanation = extract_tag(text, "Evaluation", stopped=stopped)
    except ParseError:
        explanation = ""
    return Judgement(score, explanation)
