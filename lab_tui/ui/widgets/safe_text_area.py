"""A TextArea that edits a file's real text but never sends its control characters to the terminal.

A seed file may hold `ESC ] 52 ; c ; ... BEL` (OSC 52 writes the clipboard) or a title sequence;
a plain TextArea draws those characters as they are, so opening the file would run them. Here
each rendered line loses its control characters (they take no cell, so columns and the cursor
keep their places) while the document, and so the saved file, keeps every character.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import TextArea

from lab_tui.safe_text import without_controls


class SafeTextArea(TextArea):
    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        shown = [Segment(without_controls(text), style, control) for text, style, control in strip]
        if all(new.text == old.text for new, old in zip(shown, strip)):
            return strip
        return Strip(shown, strip.cell_length)
