"""Untrusted text made safe to show and to keep: the one sanitiser for the terminal, the one redactor.

Seed files, model answers, error bodies and file names are outside text. Shown in a widget or
printed by the CLI they must never reach the terminal as an escape sequence (OSC 52 writes the
clipboard, OSC 0 sets the title, CSI moves the cursor) or as Rich markup; `clean` removes escape
sequences, C0/C1 controls and bidi overrides (keeping newlines and tabs) and shows bytes of a
non-UTF-8 file name as `\\xNN`. Text stored, logged or printed about a teacher goes through
`redact` first, so an error body that echoes the Authorization header never keeps the key.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Iterable

from rich.text import Text

_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI (also the 8-bit one), even cut short
    r"|(?:\x1b[\]P^_X]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, APC, PM, SOS strings
    r"|\x1b[ -/]*[0-~]?"  # any other escape, or a bare ESC
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 (but tab and newline), DEL, C1
    r"|[\u202a-\u202e\u2066-\u2069]"  # bidi embeddings, overrides and isolates (U+202E shows text reversed)
)
_CONTROL_CHAR = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s'\",;}\]]+")
_KEY_SHAPE = re.compile(r"\bsk-[A-Za-z0-9_\-*.]{4,}")
REDACTED = "[redacted]"


def _show_surrogate(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def unsurrogate(text: str) -> str:
    """Valid UTF-8 for any str: a byte that a file name smuggled in (surrogateescape) becomes `\\xNN`."""
    return _SURROGATE.sub(_show_surrogate, text)


def clean(text: str) -> str:
    """The text without escape sequences, control characters or bidi overrides; newlines and tabs kept."""
    return unsurrogate(_ESCAPES.sub("", str(text)))


def without_controls(text: str) -> str:
    """Only the control characters (and bidi overrides) removed, one by one: for an editor showing a
    file's real text, where the rest of an escape sequence stays on screen as what it is, plain text,
    and every column keeps its place (these characters take no cell)."""
    return _CONTROL_CHAR.sub("", text)


def literal(text: str, style: str = "") -> Text:
    """A Rich Text that renders the characters as given: `[bold]` stays `[bold]`."""
    return Text(clean(text), style=style, no_wrap=False)


def one_line(text: str, width: int) -> str:
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """The text without the given secret values and without anything shaped like a key or a bearer token."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _KEY_SHAPE.sub(REDACTED, text)


def echo(text: str = "", *, err: bool = False, flush: bool = False) -> None:
    """Print a line of (possibly untrusted) text for a person: every CLI printer goes through here."""
    print(clean(text), file=sys.stderr if err else sys.stdout, flush=flush)


def json_ready(value: Any) -> Any:
    """The value with every string valid UTF-8 (see `unsurrogate`) and otherwise exact, for `--format json`."""
    if isinstance(value, str):
        return unsurrogate(value)
    if isinstance(value, dict):
        return {json_ready(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def echo_json(value: Any) -> None:
    """Print machine-readable output: exact values, valid UTF-8, controls escaped by JSON itself."""
    print(json.dumps(json_ready(value), indent=2, ensure_ascii=False))


def clean_tree(value: Any) -> Any:
    """Every string in a JSON-like value cleaned, for renderers that show stored text as is."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {k: clean_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_tree(v) for v in value]
    return value
