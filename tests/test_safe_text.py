"""The one sanitiser and the one redactor, and that every CLI printer goes through them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lab_tui import safe_text
from lab_tui.safe_text import clean, json_ready, redact

HOSTILE = [
    "\x1b]52;c;aGVsbG8=\x07",          # OSC 52: writes the clipboard
    "\x1b]0;owned\x1b\\",              # OSC 0: sets the title
    "\x1b]8;;http://x\x07",            # hyperlink
    "\x1b[2J\x1b[31m",                 # CSI
    "\x9b31m",                         # 8-bit CSI
    "\x1bPq#0\x1b\\",                  # DCS (sixel)
    "\x1b",                            # bare ESC
    "\x07\x08\r\x0c\x7f\x85",          # BEL, BS, CR, FF, DEL, NEL
]


@pytest.mark.parametrize("attack", HOSTILE)
def test_clean_leaves_no_escape_or_control(attack):
    assert clean(f"a{attack}\nb\tc") == "a\nb\tc"


def test_clean_drops_bidi_overrides_and_shows_undecodable_bytes():
    assert clean("invoice\u202egnp.exe") == "invoicegnp.exe"
    name = b"caf\xe9.yaml".decode("utf-8", "surrogateescape")
    assert clean(name) == "caf\\xe9.yaml"
    assert json_ready({"file": name}) == {"file": "caf\\xe9.yaml"}
    assert clean("[bold]é ✓ 中文[/]") == "[bold]é ✓ 中文[/]"


def test_redact_removes_the_key_and_any_bearer_or_sk_shape():
    text = "Incorrect API key provided: Bearer abc.def-123. Also sk-proj-AbCdEf123456 and my-own-key-value."
    out = redact(text, ["my-own-key-value", None, ""])
    assert "abc.def-123" not in out and "AbCdEf123456" not in out and "my-own-key-value" not in out
    assert out.startswith("Incorrect API key provided: Bearer [redacted]")


def _calls_print(tree: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]


def test_cli_printers_go_through_the_sanitiser():
    """No command prints with a bare print(): text goes through echo (cleaned) or echo_json (exact)."""
    package = Path(safe_text.__file__).parent
    files = [package / "cli.py", *sorted((package / "commands").glob("*.py"))]
    offenders = {str(f.relative_to(package)): lines for f in files if (lines := _calls_print(ast.parse(f.read_text())))}
    assert offenders == {}
