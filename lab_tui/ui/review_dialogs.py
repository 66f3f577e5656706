"""The Review pane's dialogs: edit, note, reject with a reason code, filter, recent decisions, export.

Each is a modal screen that returns what the reviewer chose and writes nothing itself: the pane
does the writing on its database thread, so a refused write can bring the dialog back with what
was typed. All pair text shown here is outside text: drawn through `literal` or the safe widgets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from lab_tui.store.export import DEFAULT_FORMAT, DEFAULT_STATUS, EXPORT_STATUSES, FORMATS, SystemPrompt, system_prompt
from lab_tui.store.review import ORDERS, REJECT_REASONS, Decision, ReviewFilter
from lab_tui.ui.safe_text import literal, one_line
from lab_tui.ui.widgets.safe_text_area import SafeInput, SafeTextArea

REASON_KEYS = {code[0]: code for code in REJECT_REASONS}
"""One key per reject reason code: its first letter (o, w, i, f, d, u)."""


class EditDialog(ModalScreen[tuple[str, str] | None]):
    """Edit the question and response; ctrl+s accepts the pair with the edits, escape leaves it.

    The cursor starts in the question: a question is read (and fixed) before its answer."""

    BINDINGS = [Binding("ctrl+s", "save", "Accept edited"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    EditDialog { align: center middle; }
    EditDialog > Vertical { width: 90%; height: 90%; border: thick $primary; background: $surface; }
    EditDialog SafeTextArea { height: 1fr; }
    EditDialog Label { color: $text-muted; }
    """

    def __init__(self, question: str, response: str) -> None:
        super().__init__()
        self.question, self.response = question, response

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Question")
            yield SafeTextArea(self.question, id="edit-question", soft_wrap=True)
            yield Label("Response  (ctrl+s accept edited · escape cancel)")
            yield SafeTextArea(self.response, id="edit-response", soft_wrap=True)

    def on_mount(self) -> None:
        self.query_one("#edit-question", SafeTextArea).focus()

    def action_save(self) -> None:
        self.dismiss((self.query_one("#edit-question", SafeTextArea).text,
                      self.query_one("#edit-response", SafeTextArea).text))

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteDialog(ModalScreen[str | None]):
    """A note on the pair (enter or ctrl+s saves, escape cancels)."""

    BINDINGS = [Binding("ctrl+s", "save", "Save note"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    NoteDialog { align: center middle; }
    NoteDialog > Vertical { width: 70; max-width: 100%; height: auto; border: thick $primary; background: $surface; }
    """

    def __init__(self, note: str) -> None:
        super().__init__()
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Note (enter saves, escape cancels)")
            yield SafeInput(self.note, id="note")

    @on(Input.Submitted)
    def action_save(self) -> None:
        self.dismiss(self.query_one("#note", Input).value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReasonCodes(Static, can_focus=True):
    """The codes and their keys; focusable so the dialog's letter keys reach it (an Input would take them)."""


class RejectDialog(ModalScreen[tuple[str | None, str] | None]):
    """Reject with a reason code (one key each) and a note: a code key rejects at once with the note
    typed so far; enter rejects without a code; tab goes to the note, whose enter comes back here."""

    BINDINGS = [*(Binding(key, f"reject('{code}')", code, show=False) for key, code in REASON_KEYS.items()),
                Binding("enter", "reject", "Reject", show=False), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    RejectDialog { align: center middle; }
    RejectDialog > Vertical { width: 64; max-width: 100%; height: auto; border: thick $error; background: $surface; }
    RejectDialog Label { color: $text-muted; }
    RejectDialog ReasonCodes { margin: 0 0 1 0; }
    """
    AUTO_FOCUS = "ReasonCodes"

    def __init__(self, note: str) -> None:
        super().__init__()
        self.note = note

    def compose(self) -> ComposeResult:
        codes = Text()
        for key, code in REASON_KEYS.items():
            codes.append(f" {key} ", style="bold reverse")
            codes.append(f" {code:<11}", style="bold")
            codes.append(f"{REJECT_REASONS[code]}\n", style="dim")
        codes.append(" enter ", style="bold reverse")
        codes.append(" reject without a code", style="dim")
        with Vertical():
            yield Label("Reject: why? (tab writes a note first · escape cancels)")
            yield ReasonCodes(codes)
            yield Label("Note")
            yield SafeInput(self.note, id="reject-note", compact=True)

    @on(Input.Submitted)
    def back_to_codes(self) -> None:
        self.query_one(ReasonCodes).focus()

    def action_reject(self, code: str | None = None) -> None:
        self.dismiss((code, self.query_one("#reject-note", Input).value))

    def action_cancel(self) -> None:
        self.dismiss(None)


FILTER_FIELDS = (
    ("run_id", "Run", ""),
    ("outcome", "Outcome", "kept, filtered, or empty for both"),
    ("status", "Status", "pending, accepted, rejected, skipped, or empty for any"),
    ("min_score", "Score from", "the pair score at least"),
    ("max_score", "Score up to", "the pair score at most"),
    ("max_ontask", "On-task below", "0-1: the pair's least on-task text"),
    ("reviewer", "Reviewer", "who decided it"),
    ("search", "Text", "in the question or response"),
    ("skill", "Skill", "part of its path, e.g. its folder name"),
    ("batch_id", "Batch", "a lab-tui run of several skills"),
    ("seed_index", "Seed example", "its number in the Seeds pane"),
    ("order", "Order", ""),
)
NUMBERS = ("min_score", "max_score", "max_ontask")


class FilterDialog(ModalScreen[ReviewFilter | None]):
    """Every filter of the queue in one form; enter or ctrl+s applies, escape keeps the old one."""

    BINDINGS = [Binding("ctrl+s", "save", "Apply"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    FilterDialog { align: center middle; }
    FilterDialog > Vertical { width: 72; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
                              background: $surface; overflow-y: auto; }
    FilterDialog Input { height: 1; border: none; padding: 0 1; background: $boost; }
    FilterDialog Input:focus { border: none; background: $primary 30%; }
    FilterDialog Horizontal { height: 1; }
    FilterDialog .filter-label { width: 15; color: $text-muted; }
    FilterDialog Input, FilterDialog Select { width: 1fr; }
    FilterDialog #filter-title { color: $text-muted; margin-bottom: 1; }
    #filter-error { color: $error; }
    """

    def __init__(self, current: ReviewFilter, runs: list[dict], focus: str = "run_id") -> None:
        super().__init__()
        self.current, self.runs, self.first = current, runs, focus

    def run_options(self) -> list[tuple[Text, str]]:
        """The runs to choose from (newest first), so nobody types a 22-character id."""
        options = [(Text.assemble((run["id"], "bold"), "  ", literal(one_line(
            f"{run['skill'] or ''} · {run['display_status']} · {run['pairs_kept']} kept", 40))), run["id"])
            for run in self.runs]
        if self.current.run_id and self.current.run_id not in {run["id"] for run in self.runs}:
            options.insert(0, (literal(self.current.run_id), self.current.run_id))
        return options

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Which pairs, in what order (enter applies, escape cancels)", id="filter-title")
            for name, label, hint in FILTER_FIELDS:
                value = getattr(self.current, name)
                with Horizontal():
                    yield Label(label, classes="filter-label")
                    if name == "run_id":
                        yield Select(self.run_options(), prompt="any run", value=value or Select.NULL,
                                     id="filter-run_id", compact=True)
                    elif name == "order":
                        yield Select([(f"{order}: {text}", order) for order, text in ORDERS.items()], value=value,
                                     allow_blank=False, id="filter-order", compact=True)
                    elif name == "seed_index":
                        yield SafeInput("" if value is None else str(value + 1), placeholder=hint,
                                        id="filter-seed_index", type="integer")
                    else:
                        yield SafeInput("" if value is None else str(value), placeholder=hint, id=f"filter-{name}")
            yield Label("", id="filter-error")

    def on_mount(self) -> None:
        self.query_one(f"#filter-{self.first}").focus()

    @on(Input.Submitted)
    def action_save(self) -> None:
        values: dict[str, Any] = {name: self.query_one(f"#filter-{name}", Input).value.strip() or None
                                  for name, _, _ in FILTER_FIELDS if name not in ("run_id", "order")}
        run = self.query_one("#filter-run_id", Select)
        values["run_id"] = None if run.is_blank() else run.value
        values["order"] = self.query_one("#filter-order", Select).value
        try:
            for name in NUMBERS:
                if values[name] is not None:
                    values[name] = float(values[name])
            if values["seed_index"] is not None:
                values["seed_index"] = int(values["seed_index"]) - 1
                if values["seed_index"] < 0:
                    raise ValueError
        except ValueError:
            self.query_one("#filter-error", Label).update("Scores are numbers; seed examples are numbered from 1.")
            return
        self.dismiss(dataclasses.replace(self.current, **values))

    def action_cancel(self) -> None:
        self.dismiss(None)


class RecentDialog(ModalScreen[str | None]):
    """This reviewer's recent decisions, newest first: enter shows that pair again to change its verdict."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    RecentDialog { align: center middle; }
    RecentDialog > Vertical { width: 90%; height: auto; max-height: 90%; border: thick $primary; background: $surface; }
    RecentDialog Label { color: $text-muted; }
    RecentDialog OptionList { height: auto; max-height: 20; }
    """

    def __init__(self, decisions: list[Decision]) -> None:
        super().__init__()
        self.decisions = decisions

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Recent decisions (enter goes back to the pair · escape cancels)")
            yield OptionList(*(Option(Text.assemble(
                (f"{decision.status:<9}", "bold"), (f"{decision.reason or '':<11}", "dim"),
                literal(one_line(decision.question, 200))), id=decision.pair_id) for decision in self.decisions))

    @on(OptionList.OptionSelected)
    def choose(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class ExportRequest:
    """What the export dialog asks for: `lab-tui export`'s choices."""

    path: Path
    status: str
    format: str
    prompt: SystemPrompt
    prompt_choice: str
    """As typed, so the dialog can come back with it."""


class ExportDialog(ModalScreen[ExportRequest | None]):
    """Where and what to export, as `lab-tui export` asks: the file, the review status, the format and
    the system prompt (a family, a student model's folder, or the text). ctrl+s or enter exports."""

    BINDINGS = [Binding("ctrl+s", "save", "Export"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog > Vertical { width: 78; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
                              background: $surface; overflow-y: auto; }
    ExportDialog Input { height: 1; border: none; padding: 0 1; background: $boost; }
    ExportDialog Input:focus { border: none; background: $primary 30%; }
    ExportDialog Label { color: $text-muted; }
    #export-error { color: $error; }
    """
    AUTO_FOCUS = "#export-path"

    def __init__(self, runs: list[str], path: Path, status: str = DEFAULT_STATUS, format: str = DEFAULT_FORMAT,
                 prompt: str = "default", error: str = "") -> None:
        super().__init__()
        self.runs, self.path, self.status, self.format, self.prompt, self.error = runs, path, status, format, prompt, error

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(literal(one_line("Export run " + ", ".join(self.runs), 70)))
            yield Label("File (a header file goes beside it; its folder must exist)")
            yield SafeInput(str(self.path), id="export-path")
            yield Label("Review status")
            yield Select([(status, status) for status in EXPORT_STATUSES], value=self.status, allow_blank=False,
                         id="export-status", compact=True)
            yield Label("Format")
            yield Select([(f"{name}: {one_line(chosen.help, 60)}", name) for name, chosen in FORMATS.items()],
                         value=self.format, allow_blank=False, id="export-format", compact=True)
            yield Label("System prompt (default, granite, granite-3.1, llama, model folder, or text)")
            yield SafeInput(self.prompt, id="export-prompt")
            yield Label(literal(self.error), id="export-error")

    @on(Input.Submitted)
    def action_save(self) -> None:
        path = self.query_one("#export-path", Input).value.strip()
        choice = self.query_one("#export-prompt", Input).value
        error = self.query_one("#export-error", Label)
        if not path:
            error.update("Give the file to write.")
            return
        try:
            prompt = system_prompt(choice)
        except ValueError as problem:
            error.update(literal(str(problem)))
            return
        self.dismiss(ExportRequest(Path(path).expanduser(), self.query_one("#export-status", Select).value,
                                   self.query_one("#export-format", Select).value, prompt, choice))

    def action_cancel(self) -> None:
        self.dismiss(None)
