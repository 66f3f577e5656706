"""The help screen: `help.md` beside this module, so the words can change without code.

Keys in it are written `{binding.id:default}` and shown as the keys in effect, so a user who
remapped a key reads their own key here.
"""

from __future__ import annotations

import re
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.keys import format_key
from textual.widgets import Markdown

HELP_FILE = Path(__file__).parent / "help.md"
KEY = re.compile(r"\{([\w.]+):([^}]+)\}")


def help_text(keys_for) -> str:
    """help.md with every `{id:default}` replaced by the keys `keys_for(id, default)` says are in effect."""
    def shown(match: re.Match) -> str:
        keys = keys_for(match.group(1), match.group(2)).split(" or ")
        return " or ".join(_readable(key) for key in keys)
    return KEY.sub(shown, HELP_FILE.read_text(encoding="utf-8"))


def _readable(key: str) -> str:
    """"slash" as "/", but "backspace" as a word (its glyph is not in every terminal font)."""
    char = format_key(key)
    return char if len(char) == 1 and char.isascii() else key


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(help_text(getattr(self.app, "keys_for", lambda _id, default: default)))

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()
