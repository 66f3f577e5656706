"""Editors that hold a file's or a model's real text but never send its control characters to the terminal.

A seed file or a model answer may hold `ESC ] 52 ; c ; ... BEL` (OSC 52 writes the clipboard) or a
title sequence; a plain TextArea or Input draws those characters as they are, so showing the text
would run them. Here each rendered line loses its control characters (they take no cell, so
columns and the cursor keep their places) while the value, and so what is saved, keeps every
character. Every TextArea and Input in the app is one of these.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import Input, TextArea

from lab_tui.safe_text import without_controls


def _drawn_safely(strip: Strip) -> Strip:
    shown = [Segment(without_controls(text), style, control) for text, style, control in strip]
    if all(new.text == old.text for new, old in zip(shown, strip)):
        return strip
    return Strip(shown, strip.cell_length)


class SafeTextArea(TextArea):
    def render_line(self, y: int) -> Strip:
        return _drawn_safely(super().render_line(y))


class SafeInput(Input):
    def render_line(self, y: int) -> Strip:
        return _drawn_safely(super().render_line(y))
