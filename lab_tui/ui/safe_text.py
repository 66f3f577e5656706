"""Show text from files and models literally: never as markup, never as terminal escapes."""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b.|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Drop escape sequences and control characters (keeping newlines and tabs)."""
    return _CONTROL.sub("", text)


def literal(text: str, style: str = "") -> Text:
    """A Rich Text that renders the characters as given: `[bold]` stays `[bold]`."""
    return Text(clean(text), style=style, no_wrap=False)


def one_line(text: str, width: int) -> str:
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
