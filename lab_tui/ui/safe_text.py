"""The widgets' name for the one sanitiser, which lives in the core (`lab_tui.safe_text`) so CLI printers share it."""

from lab_tui.safe_text import clean, literal, one_line

__all__ = ["clean", "literal", "one_line"]
