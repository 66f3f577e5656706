"""Small modal screens: a choice between buttons, and opening a file."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, OptionList
from textual.widgets.option_list import Option

from lab_tui.seeds.io import SEED_SUFFIXES
from lab_tui.ui.safe_text import literal
from lab_tui.ui.widgets.safe_text_area import SafeInput


class ChoiceDialog(ModalScreen[str]):
    """Ask a question; dismiss with the id of the chosen button (escape = the last choice).

    `focus` names the button enter presses at first: the safe choice when the other one destroys work.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]], focus: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.choices = choices
        self.first = focus or choices[0][0]
        self.AUTO_FOCUS = f"#{self.first}"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self.question), classes="dialog-question")
            with Horizontal(classes="dialog-buttons" + (" many" if len(self.choices) > 3 else "")):
                for choice_id, label in self.choices:
                    yield Button(label, id=choice_id, variant="primary" if choice_id == self.first else "default")

    @on(Button.Pressed)
    def choose(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_cancel(self) -> None:
        self.dismiss(self.choices[-1][0])


class SeedFileTree(DirectoryTree):
    """Only folders and seed files; plain-character icons, as emoji widths vary between terminals."""

    ICON_NODE = "▸ "
    ICON_NODE_EXPANDED = "▾ "
    ICON_FILE = "  "

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix in SEED_SUFFIXES)]

    def process_label(self, label):
        """File names are outside text: shown literally, never with their escape sequences."""
        return super().process_label(literal(label) if isinstance(label, str) else label)


class OpenDialog(ModalScreen[Path | None]):
    """Type a path, pick a recent file, or browse a directory tree."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, recent: list[str], start: Path) -> None:
        super().__init__()
        self.recent = recent
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog open-dialog"):
            yield Label("Open a skill: type a path and press enter, or tab to a recent file or the tree.",
                        classes="dialog-question")
            yield SafeInput(placeholder="path/to/qna.yaml or seeds.jsonl", id="open-path", compact=True)
            if self.recent:
                yield Label("Recent files", classes="section")
                yield OptionList(*[Option(literal(p), id=p) for p in self.recent], id="open-recent", compact=True)
            yield Label("Browse", classes="section")
            yield SeedFileTree(self.start, id="open-tree")

    @on(Input.Submitted)
    def typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(Path(event.value.strip()).expanduser())

    @on(OptionList.OptionSelected, "#open-recent")
    def recent_chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(event.option.id))

    @on(DirectoryTree.FileSelected)
    def browsed(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(Path(event.path))

    def action_cancel(self) -> None:
        self.dismiss(None)


class SaveAsDialog(ModalScreen[Path | None]):
    """Ask for a new file to save to; an existing file or a missing folder is refused here, not overwritten."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: Path | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Save as: type a new file's path and press enter (escape cancels).", classes="dialog-question")
            yield SafeInput(value=str(self.current.with_name("copy-" + self.current.name)) if self.current else "",
                            id="save-as-path", compact=True)
            yield Label("", id="save-as-problem")

    @on(Input.Submitted)
    def typed(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        problem = ("Type a path." if not event.value.strip() else
                   f"{path} already exists: choose a new name." if path.exists() or path.is_symlink() else
                   f"The folder {path.parent} does not exist." if not path.parent.is_dir() else None)
        if problem:
            self.query_one("#save-as-problem", Label).update(literal(problem))
        else:
            self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
