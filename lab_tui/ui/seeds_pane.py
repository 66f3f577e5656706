"""The Seeds pane: edit a skill's task description and seed examples with live lint findings.

Editing happens in TextAreas, so every pane action is on a ctrl/alt/function key (a focused
TextArea swallows single letters). Linting runs in a thread worker after a short pause in
typing and posts its findings back, so typing never waits for the linter. A file that does not
parse opens as raw text beside its error, so nothing in it is lost and it can be fixed here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import ContentSwitcher, Footer, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from lab_tui.config import load_settings
from lab_tui.seeds import (FIX_LABELS, Finding, LoadResult, SeedExample, Skill, apply_fix, dump_skill, lint_skill,
                           load_skill, parse_skill_text, save_skill, upgrade_to_v3)
from lab_tui.seeds.io import UNCHECKED, FileChanged, read_text, save_text
from lab_tui.seeds.lint import lint_loaded
from lab_tui.seeds.recovery import discard_recovery, read_recovery, write_recovery
from lab_tui.seeds.yamlio import node_lines
from lab_tui.ui.dialogs import ChoiceDialog, OpenDialog, SaveAsDialog
from lab_tui.store.queries import SeedYield
from lab_tui.store.review import ReviewFilter
from lab_tui.ui.messages import OpenSkill, ReviewPairs, SeedFileChanged, SkillShown
from lab_tui.ui.pane import PaneScreen
from lab_tui.ui.safe_text import clean, literal, one_line
from lab_tui.ui.widgets.safe_text_area import SafeTextArea
from lab_tui.ui.widgets.status_bar import StatusBar

LINT_DELAY_S = 0.3
LIVE_LINT_LIMIT = 200_000
"""Characters above which findings stop refreshing while typing: linting costs about a second per
megabyte of pure Python, which a worker thread still takes from the UI thread (the GIL)."""
AUTOSAVE_EVERY_S = 2.0
RECENT_LIMIT = 10
FIELDS = ("context", "question", "answer")
SEVERITY_MARK = {"error": "✖", "warning": "▲", "info": "●"}
SIDE_WIDTH = 30
"""The examples column's width at 80 columns (app.tcss); a wider terminal gives it a quarter."""
EXAMPLE_GROUP = Binding.Group("Example", compact=True)
MOVE_GROUP = Binding.Group("Move", compact=True)


def _same_file(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


@dataclass
class RecoveryWritten(Message):
    """An autosave copy was written off the UI thread; `saves` says which save it followed."""

    text: str
    saves: int


@dataclass
class YieldsRead(Message):
    """What each seed example of `path` produced across its runs (`store.queries.seed_yields`)."""

    path: Path
    yields: dict[int, SeedYield]


@dataclass
class LintDone(Message):
    """Findings for one state of the skill (or of the raw text); `generation` says which."""

    generation: int
    findings: list[Finding]
    parsed: bool = True


class SeedsScreen(PaneScreen):
    """One skill file: its examples on the left with their findings, the editors on the right."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="seeds.save"),
        Binding("ctrl+o", "open", "Open", id="seeds.open"),
        Binding("ctrl+n", "add_example", "New", id="seeds.add"),
        Binding("ctrl+t", "duplicate_example", "Dup", id="seeds.duplicate"),
        Binding("f8", "delete_example", "Del", id="seeds.delete"),
        Binding("ctrl+up", "previous_example", "Previous example", id="seeds.previous", group=EXAMPLE_GROUP,
                key_display="^↑"),
        Binding("ctrl+down", "next_example", "Next example", id="seeds.next", group=EXAMPLE_GROUP,
                key_display="↓"),
        Binding("alt+up", "move_example(-1)", "Move example up", id="seeds.move_up", group=MOVE_GROUP,
                key_display="M-↑"),
        Binding("alt+down", "move_example(1)", "Move example down", id="seeds.move_down", group=MOVE_GROUP,
                key_display="↓"),
        Binding("f6", "focus_findings", "Lint", priority=True, id="seeds.findings"),
        Binding("ctrl+f", "fix", "Fix", id="seeds.fix"),
        Binding("ctrl+r", "review_seed", "Review its pairs", id="seeds.review", show=False),  # said on the yield line
    ]

    DEFAULT_CSS = """
    #seed-yield { height: auto; max-height: 4; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.path: Path | None = None
        self.skill: Skill | None = None
        self.disk_text: str | None = None
        """The file's text as last read or written: what "unsaved changes" are measured against."""
        self.disk_stamp = None
        """The file as last read or written (`FileStamp`, None: it did not exist): a save checks it still is."""
        self.current = 0
        self.unsaved = False
        self.findings: list[Finding] = []
        self.generation = 0
        """Counts lint requests: findings (`LintDone`) of an older generation are out of date and dropped."""
        self._autosaved: str | None = None
        self._autosaving = False
        self._saves = 0
        """Saves so far: a recovery copy made before the latest save is stale and not written."""
        self._lint_timer = None
        self.side_width = SIDE_WIDTH
        self.yields: dict[int, SeedYield] = {}
        """What each seed example (by index) made across the skill's runs, as last read."""

    def compose(self) -> ComposeResult:
        yield StatusBar(id="seeds-status")
        with Horizontal(id="seeds-body"):
            with Vertical(id="seeds-side"):
                yield Label("Examples", classes="section")
                yield OptionList(id="examples", compact=True)
                yield Label("Findings (f6)", classes="section")
                yield OptionList(id="findings", compact=True)
            with ContentSwitcher(initial="seeds-editors", id="seeds-main"):
                with VerticalScroll(id="seeds-editors", can_focus=False):
                    yield Label("Task description", classes="section")
                    yield SafeTextArea(id="task", soft_wrap=True, classes="editor")
                    yield Static(id="seed-yield")
                    yield Label("Context", id="context-label", classes="section")
                    yield SafeTextArea(id="context", soft_wrap=True, classes="editor")
                    yield Label("Question", classes="section")
                    yield SafeTextArea(id="question", soft_wrap=True, classes="editor")
                    yield Label("Answer", classes="section")
                    yield SafeTextArea(id="answer", soft_wrap=True, classes="editor")
                with Vertical(id="seeds-raw"):
                    yield Label("Not valid: fix it here, ctrl+s saves (keeps .bak)", classes="section")
                    yield SafeTextArea(id="raw", show_line_numbers=True, soft_wrap=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_resize(self) -> None:
        """The examples column takes a quarter of a wide terminal, and its questions the room it has."""
        width = max(SIDE_WIDTH, self.size.width // 4)
        if width != self.side_width:
            self.side_width = width
            self.query_one("#seeds-side").styles.width = width
            self.show_examples()

    def on_mount(self) -> None:
        self.set_interval(AUTOSAVE_EVERY_S, self.autosave)
        path = getattr(self.app, "skill_path", None)
        if path is not None:
            self.open_path(Path(path))
        else:
            self.show_state()

    # ----- opening and saving -------------------------------------------------------------

    @property
    def raw_mode(self) -> bool:
        return self.skill is None and self.disk_text is not None

    def open_path(self, path: Path) -> None:
        """Open a file: a skill, a new empty skill for a missing file, or raw text if it does not parse.

        An unreadable file (not UTF-8, no permission) leaves the current skill alone.
        """
        path = Path(path)
        if not path.exists():
            self.show_result(path, LoadResult(Skill(path=path, format="jsonl" if path.suffix == ".jsonl"
                                                    else "qna_yaml")), disk_text=None)
            self.app.notify(f"{path} does not exist yet: ctrl+s creates it.")
            return
        result = load_skill(path)
        if result.text is None:
            first = result.findings[0] if result.findings else None
            self.app.notify(f"{path}: {first.message if first else 'cannot open'}", title="Cannot open",
                            severity="error", timeout=10)
            if self.path is None:
                self.path, self.findings = path, result.findings
                self.show_state()
            return
        self.show_result(path, result, disk_text=result.text)
        self.remember_recent(path)
        recovery = read_recovery(path)
        if recovery is not None:
            self.app.push_screen(
                ChoiceDialog(f"Unsaved edits to {path.name} from {local_time(recovery.saved_at)} were kept "
                             "when lab-tui last stopped. Restore them?",
                             [("restore", "Restore"), ("discard", "Discard")]),
                lambda choice: self.restore(recovery.text) if choice == "restore" else self.discard_copy(),
            )
        else:
            self.offer_upgrade()

    def show_result(self, path: Path, result: LoadResult, disk_text: str | None, current: int = 0) -> None:
        """Show what was read (at example `current`): the skill in the editors, or the raw text beside its
        error; it is the open skill now."""
        self.path = path
        self.post_message(SkillShown(path))
        self.skill = result.skill
        self.disk_text = disk_text
        self.disk_stamp = result.stamp
        self.current = max(0, min(current, len(result.skill.examples) - 1)) if result.skill else 0
        self.unsaved = False
        self._autosaved = None
        self.findings = [] if result.skill is not None else result.findings
        self.query_one("#raw", TextArea).load_text(result.text or "" if result.skill is None else "")
        self.query_one("#seeds-main", ContentSwitcher).current = "seeds-raw" if self.raw_mode else "seeds-editors"
        self.show_state()
        if self.raw_mode:
            self.jump_to_raw(self.findings[0] if self.findings else None)
        else:
            self.lint_now()
        self.read_yields()

    def on_screen_resume(self) -> None:
        self.read_yields()  # runs may have made or reviewers judged pairs meanwhile

    def read_yields(self) -> None:
        if self.path is not None and getattr(self.app, "db_path", None) is not None:
            self.read_yields_in_thread(self.path)

    @work(thread=True, exclusive=True, group="seed-yields", exit_on_error=False)
    def read_yields_in_thread(self, path: Path) -> None:
        from lab_tui.store.db import open_db
        from lab_tui.store.queries import seed_yields

        yields = seed_yields(open_db(self.app.db_path), path)
        self.post_message(YieldsRead(path, {entry.seed_index: entry for entry in yields}))

    @on(YieldsRead)
    def yields_read(self, message: YieldsRead) -> None:
        if self.path is None or not _same_file(self.path, message.path) or message.yields == self.yields:
            return
        self.yields = message.yields
        self.show_examples()
        self.show_yield()

    def show_yield(self) -> None:
        """The current seed example's yield across the skill's runs, under the task description (no line
        at all for a skill none of whose runs made a pair: the editors keep the room)."""
        shown = self.query_one("#seed-yield", Static)
        shown.display = bool(self.yields)
        entry = self.yields.get(self.current) if self.skill is not None and self.skill.examples else None
        text = Text(style="dim")
        if entry is None:
            if self.skill is not None and self.skill.examples:
                text.append(f"Example {self.current + 1} has made no pairs in this database's runs yet.")
        else:
            text = Text.assemble((f"Example {self.current + 1} made ", "dim"), (str(entry.made), "bold"),
                                 (" pairs: ", "dim"), f"{entry.kept} kept by the judges · {entry.accepted} accepted · "
                                 f"{entry.rejected} rejected")
            if entry.reasons:
                text.append(" (" + ", ".join(f"{clean(code)} {count}" for code, count in entry.reasons) + ")")
            for note, count in entry.notes:
                text.append("  “")
                text.append_text(literal(one_line(note, 60)))
                text.append(f"”{f' ×{count}' if count > 1 else ''}")
            text.append("  ctrl+r reviews them", style="dim italic")
        shown.update(text)

    def action_review_seed(self) -> None:
        """Review exactly the pairs this seed example made (the app routes the ask to Review)."""
        if self.path is None or self.skill is None or not self.skill.examples:
            self.notify("No seed example is shown.", severity="warning")
            return
        if self.current not in self.yields:
            self.notify(f"Example {self.current + 1} has made no pairs yet: run the skill first (f3).",
                        severity="warning")
            return
        self.post_message(ReviewPairs(ReviewFilter(skill=str(self.path), seed_index=self.current, status=None)))

    def discard_copy(self) -> None:
        if self.path is not None:
            discard_recovery(self.path)
        self.offer_upgrade()

    def restore(self, text: str) -> None:
        """Bring back an autosaved copy; it stays unsaved (and its recovery copy kept) until ctrl+s."""
        result = parse_skill_text(text, self.path)
        disk_text, result.stamp = self.disk_text, self.disk_stamp
        self.show_result(self.path, result if result.skill is not None else LoadResult(None, result.findings, text=text,
                                                                                        stamp=self.disk_stamp),
                         disk_text)
        if self.skill is not None:
            self.skill.source_text = disk_text
        self.unsaved = True
        self._autosaved = text
        self.show_status()

    def offer_upgrade(self) -> None:
        skill = self.skill
        if skill is None or skill.format != "qna_yaml" or skill.version == 3:
            return
        old = "the first format (no version key)" if skill.version is None else f"version {skill.version}"
        self.app.push_screen(
            ChoiceDialog(f"{self.path.name} uses {old}; the taxonomy now requires version 3. Upgrade it? "
                         "Only the version key changes, and only when you save.",
                         [("upgrade", "Upgrade"), ("later", "Later")]),
            lambda choice: self.upgrade() if choice == "upgrade" else None,
        )

    def upgrade(self) -> None:
        if self.skill is not None:
            upgrade_to_v3(self.skill)
            self.changed()

    def remember_recent(self, path: Path) -> None:
        settings = load_settings()
        resolved = str(path.resolve())
        recent = [resolved] + [p for p in settings.get("recent", []) if p != resolved]
        settings.set("recent", recent[:RECENT_LIMIT])

    def current_text(self) -> str | None:
        """What saving would write now."""
        if self.skill is not None:
            return dump_skill(self.skill)
        if self.raw_mode:
            return self.query_one("#raw", TextArea).text
        return None

    def action_save(self) -> bool:
        return self.save(self.path, self.disk_stamp)

    def save(self, path: Path | None, expected) -> bool:
        """Write what is shown to `path` if the file there is still `expected` (see `seeds.io.save_text`);
        a file changed on disk meanwhile is never overwritten without asking."""
        if path is None or self.current_text() is None:
            self.app.notify("There is nothing to save.", severity="warning")
            return False
        try:
            if self.skill is not None:
                self.disk_stamp = save_skill(self.skill, path, expected)
                self.disk_text = self.skill.source_text
            else:
                text = self.current_text()
                self.disk_stamp = save_text(path, text, expected)
                self.disk_text = text
        except FileChanged as changed:
            self.ask_about_change(changed)
            return False
        except OSError as error:
            self.app.notify(f"Could not save {path}: {error.strerror}. Your edits are kept.",
                            severity="error", timeout=10)
            return False
        if path != self.path:
            discard_recovery(self.path)
            self.path = path
            self.post_message(SkillShown(path))
        self._saves += 1
        self.unsaved = False
        discard_recovery(self.path)
        self._autosaved = None
        self.remember_recent(self.path)
        self.app.notify(f"Saved {self.path}")
        if self.raw_mode:
            self.open_path(self.path)
        else:
            self.show_status()
            self.lint_now()
        return True

    def ask_about_change(self, changed: FileChanged) -> None:
        """Someone else saved the file (or removed it) since it was read: the user picks whose text wins."""
        def decided(choice: str | None) -> None:
            if choice == "reload":
                discard_recovery(self.path)
                self.open_path(self.path)
            elif choice == "overwrite":
                self.save(self.path, UNCHECKED)
            elif choice == "elsewhere":
                self.app.push_screen(SaveAsDialog(self.path), lambda path: path and self.save(path, None))

        self.app.push_screen(
            ChoiceDialog(f"{changed}. Your edits are not saved yet. Reload the file from disk (your edits are "
                         "dropped), overwrite it with your version (theirs is kept as .bak), or save yours elsewhere?",
                         [("reload", "Reload"), ("overwrite", "Overwrite"), ("elsewhere", "Save as…"),
                          ("cancel", "Cancel")]),
            decided,
        )

    def autosave(self) -> None:
        """Keep a recovery copy of unsaved edits, so a crash loses at most a few seconds.

        The copy is dumped and written in a worker thread (a 5 MB skill takes a while); one the
        user saved past meanwhile is removed again when the worker reports back."""
        if not self.unsaved or self.path is None or self._autosaving:
            return
        skill = copy.deepcopy(self.skill) if self.skill is not None else None
        raw = self.query_one("#raw", TextArea).text if self.raw_mode else None
        if skill is None and raw is None:
            return
        self._autosaving = True
        self.write_recovery_in_thread(self.path, skill, raw, self._autosaved, self._saves)

    @work(thread=True, group="autosave", exit_on_error=False, description="autosave")  # no repr of a 5 MB skill
    def write_recovery_in_thread(self, path: Path, skill: Skill | None, raw: str | None, last: str | None,
                                 saves: int) -> None:
        try:
            text = dump_skill(skill) if skill is not None else raw
            if text != last:
                write_recovery(path, text)
                self.post_message(RecoveryWritten(text, saves))
        finally:
            self._autosaving = False

    @on(RecoveryWritten)
    def recovery_written(self, message: RecoveryWritten) -> None:
        if message.saves != self._saves:
            if not self.unsaved and self.path is not None:
                discard_recovery(self.path)  # saved while the copy was being written: it is stale
            return
        self._autosaved = message.text

    def confirm_leave(self, then) -> None:
        """Run `then()` once unsaved changes are saved or discarded; cancelling runs nothing."""
        if not self.unsaved:
            then()
            return

        def decided(choice: str | None) -> None:
            if choice == "save" and self.action_save():
                then()
            elif choice == "discard":
                if self.path is not None:
                    discard_recovery(self.path)
                self.unsaved = False
                then()

        self.app.push_screen(
            ChoiceDialog(f"{self.path.name if self.path else 'The skill'} has unsaved changes.",
                         [("save", "Save"), ("discard", "Discard"), ("cancel", "Cancel")]),
            decided,
        )

    def action_open(self) -> None:
        recent = load_settings().get("recent", [])
        start = Path.cwd()

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.post_message(OpenSkill(path))

        self.app.push_screen(OpenDialog(recent, start), chosen)

    def show_skill(self, path: Path, example: int | None = None) -> None:
        """Show this file (asking about unsaved edits first), at seed example `example` if given
        (the app's answer to `OpenSkill`)."""
        def at_example() -> None:
            if example is not None and self.path is not None and _same_file(self.path, path):
                self.select_example(example)

        if self.path is not None and _same_file(self.path, path):
            at_example()
        else:
            self.confirm_leave(lambda: (self.open_path(path), at_example()))

    def seed_file_changed(self, message: SeedFileChanged) -> None:
        """Another pane wrote the file shown here (Review's promote): show its examples, losing nothing typed.

        Without unsaved edits the file is read again. With unsaved edits the examples it added join
        them, and if the file on disk is exactly the one this pane read plus that write, its new stamp
        is taken, so ctrl+s saves the edits and the added examples without asking; if someone else
        changed the file as well, ctrl+s asks, as for any change on disk. Raw text being fixed is left
        as typed: ctrl+s asks there too.
        """
        if self.path is None or not _same_file(self.path, message.path):
            return
        if not self.unsaved:
            self.read_again()
        elif self.skill is not None:
            first = len(self.skill.examples) + 1
            self.skill.examples.extend(example.copy() for example in message.added)
            try:
                text, stamp = read_text(self.path)
            except (OSError, UnicodeDecodeError):
                stamp = None
            if self.disk_stamp == message.before and stamp == message.after:
                self.disk_text, self.disk_stamp = text, stamp
            self.show_examples()
            self.show_editors()
            self.show_status()
            self.schedule_lint()
            self.app.notify(f"Seed example {first} is also in the Seeds pane, after your unsaved edits: ctrl+s "
                            "there saves both.", title="Seeds pane")

    def read_again(self) -> None:
        """Show the file as it is on disk now, on the same example (nothing here is unsaved)."""
        result = load_skill(self.path)
        if result.text is None:
            return  # unreadable now: keep showing what was read; saving will say why
        self.show_result(self.path, result, disk_text=result.text, current=self.current)

    # ----- showing the skill --------------------------------------------------------------

    @property
    def example(self) -> SeedExample | None:
        if self.skill is None or not self.skill.examples:
            return None
        return self.skill.examples[self.current]

    def show_state(self) -> None:
        self.show_examples()
        self.show_editors()
        self.show_findings()
        self.show_status()

    def show_status(self) -> None:
        counts = {s: sum(f.severity == s for f in self.findings) for s in ("error", "warning", "info")}
        name = clean(self.path.name) if self.path else "no file"
        # What must stay visible at 80 columns comes first: the findings and the unsaved mark.
        status = Text(f" ✖{counts['error']} ▲{counts['warning']} ●{counts['info']} ")
        if self.unsaved:
            status.append("+", style="bold reverse")
        status.append_text(literal(one_line(name, 24), style="bold"))
        if self.unsaved:
            status.append(" modified", style="bold")
        if self.skill is not None:
            status.append(f" {len(self.skill.examples)} ex")
        elif self.raw_mode:
            status.append(" raw text")
        elif self.findings:
            status.append(" cannot open")
        self.query_one("#seeds-status", StatusBar).status = status
        self.app.sub_title = name + (" (modified)" if self.unsaved else "")

    def example_prompt(self, index: int, example: SeedExample) -> Text:
        """Its number, question, worst finding, and the pairs it made that the judges kept (`·N`)."""
        marks = [f for f in self.findings if f.example == index and f.severity != "info"]
        entry = self.yields.get(index)
        kept = f" ·{entry.kept}" if entry is not None else ""
        prompt = Text(f"{index + 1:>2} ")
        room = self.side_width - 9  # the number, the list's edge and a finding's mark
        prompt.append_text(literal(one_line(example.question or "(no question)", max(8, room - len(kept)))))
        if marks:
            worst = "error" if any(f.severity == "error" for f in marks) else "warning"
            prompt.append(f" {SEVERITY_MARK[worst]}{len(marks)}", style="bold")
        prompt.append(kept, style="dim")
        return prompt

    def show_examples(self) -> None:
        options = self.query_one("#examples", OptionList)
        options.clear_options()
        if self.skill is not None:
            options.add_options([Option(self.example_prompt(i, e)) for i, e in enumerate(self.skill.examples)])
            if self.skill.examples:
                options.highlighted = self.current

    def show_editors(self) -> None:
        editable = self.skill is not None
        values = {"task": self.skill.task_description if editable else ""}
        example = self.example
        for field in FIELDS:
            values[field] = (getattr(example, field) or "") if example else ""
        for name, value in values.items():
            area = self.query_one(f"#{name}", TextArea)
            area.disabled = not editable or (name in FIELDS and example is None)
            if area.text != value:
                area.load_text(value)
        total = len(self.skill.examples) if self.skill else 0
        label = f"Context · example {self.current + 1} of {total}" if total else "Context · no examples (ctrl+n adds one)"
        self.query_one("#context-label", Label).update(label)
        self.show_yield()

    def show_findings(self) -> None:
        options = self.query_one("#findings", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        groups: dict[int | None, list[int]] = {}
        for index, finding in enumerate(self.findings):
            groups.setdefault(finding.example, []).append(index)
        for example in sorted(groups, key=lambda e: -1 if e is None else e):
            options.add_option(Option(Text("Skill" if example is None else f"Example {example + 1}", style="bold"),
                                      disabled=True))
            for index in groups[example]:
                finding = self.findings[index]
                prompt = Text()
                prompt.append(SEVERITY_MARK[finding.severity] + " ", style="bold")
                prompt.append(f"L{finding.line} " if finding.line else "")
                prompt.append_text(literal(finding.message))
                if finding.fix:
                    prompt.append(f" [ctrl+f: {FIX_LABELS.get(finding.fix, finding.fix)}]", style="italic")
                options.add_option(Option(prompt, id=f"finding-{index}"))
        if not self.findings:
            options.add_option(Option("No findings.", disabled=True))
        if highlighted is not None and highlighted < options.option_count:
            options.highlighted = highlighted

    # ----- editing ------------------------------------------------------------------------

    @on(TextArea.Changed)
    def edited(self, event: TextArea.Changed) -> None:
        name, text = event.text_area.id, event.text_area.text
        if name == "raw":
            if self.raw_mode and (text != self.disk_text) != self.unsaved:
                self.unsaved = not self.unsaved
                self.show_status()
            if self.raw_mode:
                self.schedule_lint()
            return
        if self.skill is None:
            return
        if name == "task":
            if text == self.skill.task_description:
                return
            self.skill.task_description = text
        else:
            example = self.example
            if example is None or (getattr(example, name) or "") == text:
                return
            setattr(example, name, text if (text or name != "context") else None)
            if name == "question":
                self.query_one("#examples", OptionList).replace_option_prompt_at_index(
                    self.current, self.example_prompt(self.current, example))
        self.changed()

    def changed(self) -> None:
        if not self.unsaved:
            self.unsaved = True
            self.show_status()
        self.schedule_lint()

    def schedule_lint(self) -> None:
        """Lint after a pause in typing; the findings shown are out of date from now (a new generation)."""
        self.generation += 1
        if self._lint_timer is not None:
            self._lint_timer.stop()
        self._lint_timer = self.set_timer(LINT_DELAY_S, self.lint_now)

    def lint_now(self) -> None:
        if self._lint_timer is not None:
            self._lint_timer.stop()
        self._lint_timer = None
        self.generation += 1
        size = self.text_size()
        if size > LIVE_LINT_LIMIT:
            self.post_message(LintDone(self.generation, [Finding(
                "lint/paused", "info", f"Live lint is paused: this skill has {size / 1e6:.1f} MB of text (over "
                f"{LIVE_LINT_LIMIT // 1000} KB), and typing must stay fast. Run `lab-tui lint` on the saved "
                "file to check it whole.")], parsed=self.skill is not None))
            return
        if self.skill is not None:
            self.lint_in_thread(copy.deepcopy(self.skill), None, self.generation)
        elif self.raw_mode:
            self.lint_in_thread(None, self.query_one("#raw", TextArea).text, self.generation)

    def text_size(self) -> int:
        """About how much text the skill holds, counted without dumping it."""
        if self.skill is not None:
            return len(self.skill.task_description) + sum(
                len(e.context or "") + len(e.question) + len(e.answer) for e in self.skill.examples)
        return len(self.query_one("#raw", TextArea).text) if self.raw_mode else 0

    @work(thread=True, exclusive=True, group="lint", exit_on_error=False, description="lint")
    def lint_in_thread(self, skill: Skill | None, raw: str | None, generation: int) -> None:
        """Lint off the UI thread; a raw text is linted as the CLI lints that file, lines and all.

        A linter crash becomes a finding (and the app shows the error), so findings never just stop.
        """
        try:
            if skill is None:
                result = parse_skill_text(raw, self.path)
                self.post_message(LintDone(generation, lint_loaded(result), parsed=result.skill is not None))
            else:
                self.post_message(LintDone(generation, lint_skill(skill), parsed=True))
        except Exception as error:
            self.post_message(LintDone(generation, [Finding(
                "lint/crashed", "error", f"The linter failed ({type(error).__name__}: {error}); the findings "
                "shown may be out of date. Keep editing: each change lints again.")], parsed=skill is not None))
            raise

    @on(LintDone)
    def lint_done(self, message: LintDone) -> None:
        if message.generation != self.generation:
            return  # the user typed again; a newer lint is on its way
        self.findings = message.findings
        if self.raw_mode and message.parsed:
            self.app.notify("The text parses now: ctrl+s saves it and opens it as a skill.")
        self.show_findings()
        self.show_status()
        options = self.query_one("#examples", OptionList)
        if self.skill is not None:
            for index, example in enumerate(self.skill.examples):
                options.replace_option_prompt_at_index(index, self.example_prompt(index, example))

    # ----- examples -----------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#examples")
    def example_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.skill is not None and event.option_index != self.current:
            self.select_example(event.option_index)

    @on(OptionList.OptionSelected, "#examples")
    def example_selected(self, event: OptionList.OptionSelected) -> None:
        self.select_example(event.option_index)
        self.query_one("#question", TextArea).focus()

    def select_example(self, index: int) -> None:
        if self.skill is None or not self.skill.examples:
            return
        self.current = max(0, min(index, len(self.skill.examples) - 1))
        self.query_one("#examples", OptionList).highlighted = self.current
        self.show_editors()

    def action_next_example(self) -> None:
        self.select_example(self.current + 1)

    def action_previous_example(self) -> None:
        self.select_example(self.current - 1)

    def structure_changed(self, select: int) -> None:
        self.current = select
        self.show_examples()
        self.show_editors()
        self.changed()

    def action_add_example(self) -> None:
        if self.skill is None:
            return
        grounded = self.skill.grounded
        self.skill.examples.append(SeedExample(context="" if grounded else None,
                                               key_order=["context", "question", "answer"] if grounded else []))
        self.structure_changed(len(self.skill.examples) - 1)
        self.query_one("#context" if grounded else "#question", TextArea).focus()

    def action_duplicate_example(self) -> None:
        if self.example is None:
            return
        self.skill.examples.insert(self.current + 1, self.example.copy())
        self.structure_changed(self.current + 1)

    def action_delete_example(self) -> None:
        if self.example is None:
            return
        index = self.current

        def decided(choice: str | None) -> None:
            if choice == "delete" and self.skill is not None and index < len(self.skill.examples):
                del self.skill.examples[index]
                self.structure_changed(max(0, min(index, len(self.skill.examples) - 1)))

        self.app.push_screen(ChoiceDialog(f"Delete example {index + 1}?", [("delete", "Delete"), ("cancel", "Cancel")],
                                          focus="cancel"),
                             decided)

    def action_move_example(self, step: int) -> None:
        if self.example is None:
            return
        target = self.current + step
        if not 0 <= target < len(self.skill.examples):
            return
        examples = self.skill.examples
        examples[self.current], examples[target] = examples[target], examples[self.current]
        self.structure_changed(target)

    # ----- findings -----------------------------------------------------------------------

    def action_focus_findings(self) -> None:
        self.query_one("#findings", OptionList).focus()

    def selected_finding(self) -> Finding | None:
        option = self.query_one("#findings", OptionList).highlighted_option
        if option is None or not option.id:
            return None
        return self.findings[int(option.id.removeprefix("finding-"))]

    @on(OptionList.OptionSelected, "#findings")
    def finding_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            finding = self.findings[int(event.option.id.removeprefix("finding-"))]
            if self.raw_mode:
                self.jump_to_raw(finding)
            else:
                self.jump_to(finding)

    def jump_to_raw(self, finding: Finding | None) -> None:
        area = self.query_one("#raw", TextArea)
        area.focus()
        if finding is not None and finding.line:
            area.move_cursor((finding.line - 1, max(0, (finding.column or 1) - 1)), center=True)

    def jump_to(self, finding: Finding) -> None:
        """Focus the field a finding is about, on its line where the file says which."""
        if finding.example is not None:
            self.select_example(finding.example)
        field = finding.field if finding.field in FIELDS else ("task" if finding.field == "task_description" else None)
        if field is None:
            field = "question" if finding.example is not None else "task"
        area = self.query_one(f"#{field}", TextArea)
        area.focus()
        if finding.line and self.skill is not None:
            path = ("task_description",) if field == "task" else ("seed_examples", finding.example, field)
            key_line = node_lines(dump_skill(self.skill)).get(path)
            if key_line:
                row = max(0, min(finding.line - key_line - 1, area.document.line_count - 1))
                area.move_cursor((row, 0))

    def action_fix(self) -> None:
        finding = self.selected_finding()
        if finding is None or not finding.fix:
            finding = next((f for f in self.findings if f.fix), None)
        if finding is None or self.skill is None:
            self.app.notify("No finding here has a mechanical fix.", severity="warning")
            return
        path, fmt = self.skill.path, self.skill.format
        self.skill = apply_fix(self.skill, finding)
        self.skill.path, self.skill.format = path, fmt
        self.app.notify(f"Applied: {FIX_LABELS.get(finding.fix, finding.fix)}")
        self.current = min(self.current, max(0, len(self.skill.examples) - 1))
        self.show_examples()
        self.show_editors()
        self.changed()
        self.lint_now()
