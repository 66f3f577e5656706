"""The Skills pane: every skill of a taxonomy (or any folder) on one screen, with what it needs next.

One line per `qna.yaml`: lint counts, flow, seed examples, the newest run and how far its review
got, and a mark on the skills changed against the base (`ilab taxonomy diff`'s). The list appears
at once; a thread worker then reads the git changes and lints every file in worker processes,
posting each chunk as it is done, and the list draws only the lines on screen (Line API), so
thousands of skills never block a key. The folder is `lab-tui FOLDER`'s, else the taxonomy around
the open skill, else its folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from lab_tui.seeds.taxonomy import (MIXED_FLOW_MESSAGE, Changes, SkillSummary, TaxonomyError, changed_skill_files,
                                    skill_files, summarise, summarise_many, taxonomy_root)
from lab_tui.store.queries import distinct_skill_names, last_run_by_skill, open_existing_db
from lab_tui.ui.messages import OpenSkill
from lab_tui.ui.pane import PaneScreen
from lab_tui.ui.safe_text import clean, literal, one_line
from lab_tui.ui.widgets.status_bar import StatusBar

FLOW_WIDTH, EXAMPLES_WIDTH, LINT_WIDTH, RUN_WIDTH, REVIEW_WIDTH = 9, 3, 11, 9, 7
FIXED_WIDTH = 2 + (FLOW_WIDTH + 1) + (EXAMPLES_WIDTH + 1) + (LINT_WIDTH + 1) + (RUN_WIDTH + 1) + (REVIEW_WIDTH + 1)
RUN_WORDS = {"completed": "done", "interrupted": "stopped"}


def skills_folder(app) -> Path | None:
    """The folder the pane lists: the one opened, else the taxonomy around the open skill, else its folder."""
    folder = app.options.get("taxonomy")
    if folder is None and app.skill_path is not None:
        parent = Path(app.skill_path).resolve().parent
        folder = taxonomy_root(parent) or parent
    return Path(folder).resolve() if folder is not None else None


def fit_name(name: str, short: str, width: int) -> str:
    """A skill's path in `width` columns: its end (the skill's own folder) when the whole does not fit,
    and never less than what tells it from the other skills (`short`, e.g. "a/logical_reasoning"):
    when even that does not fit, its middle goes ("a/log…soning"), not its distinguishing start."""
    if len(name) <= width:
        return name
    if len(short) < width:
        return "…" + name[len(name) - width + 1:]
    head = (width - 1) // 2
    return short[:head] + "…" + short[len(short) - (width - 1 - head):]


@dataclass
class SkillRow:
    """What the list knows about one file so far; `summary` is None until it has been linted."""

    path: Path
    name: str
    short: str = ""
    """The least of its path that no other listed skill shares (`store.queries.distinct_skill_names`)."""
    summary: SkillSummary | None = None
    changed: bool = False
    run: dict | None = None


def row_text(row: SkillRow, width: int) -> Text:
    """One line of the list: changed mark, folder, flow, examples, lint counts, last run, review."""
    name_width = max(8, width - FIXED_WIDTH)
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append("● " if row.changed else "  ", style="bold")
    text.append(fit_name(clean(row.name), clean(row.short or row.name), name_width).ljust(name_width) + " ")
    summary = row.summary
    if summary is None:
        text.append("…".ljust(FLOW_WIDTH + 1), style="dim")
    elif not summary.handled:
        text.append(summary.kind.ljust(FLOW_WIDTH + 1), style="dim")
        text.append("not handled", style="dim")
        return text
    else:
        flow = summary.flow or "invalid"
        text.append(flow.ljust(FLOW_WIDTH) + " ", style="bold" if flow in ("mixed", "invalid") else "")
        text.append(str(summary.examples if summary.examples is not None else "–").rjust(EXAMPLES_WIDTH) + " ")
        counts = summary.counts or {}
        lint = Text.assemble(("✖", "bold" if counts.get("error") else "dim"), str(counts.get("error", 0)),
                             " ▲", str(counts.get("warning", 0)), " ●", str(counts.get("info", 0)))
        lint.truncate(LINT_WIDTH, pad=True)
        text.append_text(lint)
        text.append(" ")
    if summary is None:
        text.append(" " * (EXAMPLES_WIDTH + LINT_WIDTH + 2))
    run = row.run
    if run is None:
        text.append("–".ljust(RUN_WIDTH), style="dim")
    else:
        status = run["display_status"]
        text.append(clean(RUN_WORDS.get(status, status))[:RUN_WIDTH].ljust(RUN_WIDTH))
        text.append(f" {run['reviewed']}/{run['kept']}".rjust(REVIEW_WIDTH + 1))
    return text


def header_text(width: int) -> Text:
    name_width = max(8, width - FIXED_WIDTH)
    return Text("  " + "skill".ljust(name_width) + " " + "flow".ljust(FLOW_WIDTH + 1) + "ex".rjust(EXAMPLES_WIDTH)
                + " " + "lint".ljust(LINT_WIDTH + 1) + "last run".ljust(RUN_WIDTH) + "reviewed".rjust(REVIEW_WIDTH + 1),
                style="bold", no_wrap=True, end="")


class SkillList(ScrollView, can_focus=True):
    """Only the visible lines are drawn, from the rows as they are at that moment."""

    BINDINGS = [
        Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False), Binding("pagedown", "page(1)", show=False),
        Binding("home", "move(-1000000)", show=False), Binding("end", "move(1000000)", show=False),
    ]
    COMPONENT_CLASSES = {"skill-list--cursor"}
    DEFAULT_CSS = """
    SkillList { height: 1fr; }
    SkillList > .skill-list--cursor { background: $block-cursor-blurred-background; }
    SkillList:focus > .skill-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground;
                                            text-style: $block-cursor-text-style; }
    """

    class Highlighted(Message):
        def __init__(self, row: SkillRow | None) -> None:
            super().__init__()
            self.row = row

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[SkillRow] = []
        self.cursor = 0

    def show(self, rows: list[SkillRow], keep: Path | None = None) -> None:
        """Show these rows, keeping the cursor on `keep` when it is still listed."""
        self.rows = rows
        index = next((i for i, row in enumerate(rows) if row.path == keep), None) if keep else None
        self.virtual_size = Size(0, len(rows))
        self.move_to(index if index is not None else min(self.cursor, max(0, len(rows) - 1)))
        self.refresh()

    @property
    def current(self) -> SkillRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def move_to(self, index: int) -> None:
        self.cursor = max(0, min(index, len(self.rows) - 1))
        self.scroll_to_region(Region(0, self.cursor, 1, 1), animate=False, force=True)
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def action_move(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def on_click(self, event: Click) -> None:
        self.move_to(int(self.scroll_offset.y) + event.y)

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        style = self.get_component_rich_style("skill-list--cursor") if index == self.cursor else None
        text = row_text(self.rows[index], width)
        if style is not None:
            text.stylize(style)
        text.truncate(width, pad=True)
        return Strip(list(text.render(self.app.console)), width).apply_style(self.rich_style)


class Found(Message):
    def __init__(self, folder: Path, paths: list[Path] | None, error: str | None = None) -> None:
        super().__init__()
        self.folder, self.paths, self.error = folder, paths, error


class ChangesRead(Message):
    def __init__(self, changes: Changes | None, error: str | None) -> None:
        super().__init__()
        self.changes, self.error = changes, error


class Summarised(Message):
    def __init__(self, summaries: list[SkillSummary]) -> None:
        super().__init__()
        self.summaries = summaries


class RunsRead(Message):
    def __init__(self, runs: dict[Path, dict]) -> None:
        super().__init__()
        self.runs = runs


class SkillsScreen(PaneScreen):
    BINDINGS = [
        Binding("enter", "open_skill", "Open in Seeds", id="skills.open"),
        Binding("c", "toggle_changed", "Changed only", id="skills.changed"),
        Binding("f8", "reload", "Reload", id="skills.reload"),
    ]
    DEFAULT_CSS = """
    #skills-summary { height: 1; padding: 0 1; color: $text-muted; }
    #skills-header { height: 1; color: $text-muted; }
    #skills-detail { height: 1; padding: 0 1; color: $text-muted; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.folder: Path | None = None
        self.rows: dict[Path, SkillRow] = {}
        self.changes: Changes | None = None
        self.changes_error: str | None = None
        self.changed_only = False
        self.error: str | None = None
        self.linted = 0

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(id="skills-summary")
        yield Static(id="skills-header")
        yield SkillList(id="skills-list")
        yield Static(id="skills-detail")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(SkillList).focus()
        self.action_reload()

    def on_screen_resume(self) -> None:
        """Coming back from the Seeds or Run pane: the open skill may have been edited or run."""
        if self.folder is not None and self.rows:
            self.refresh_after_visit(self.folder, getattr(self.app, "skill_path", None))

    def on_resize(self) -> None:
        self.query_one("#skills-header", Static).update(header_text(self.query_one(SkillList)
                                                                    .scrollable_content_region.width))

    # ----- reading the folder, git and the store, off the UI thread ------------------------------

    def action_reload(self) -> None:
        self.folder = skills_folder(self.app)
        self.rows, self.changes, self.changes_error, self.error, self.linted = {}, None, None, None, 0
        self.show_rows()
        if self.folder is None:
            self.error = "No folder to list: start lab-tui with a folder (lab-tui PATH/TO/TAXONOMY)."
            self.show_summary()
            return
        self.scan(self.folder, self.app.options.get("base"))

    @work(thread=True, exclusive=True, group="skills-scan", exit_on_error=False, name="Reading the skills")
    def scan(self, folder: Path, base: str | None) -> None:
        worker = get_current_worker()
        try:
            paths = skill_files(folder)
        except TaxonomyError as error:
            self.post_message(Found(folder, None, str(error)))
            return
        self.post_message(Found(folder, paths))
        self.read_runs_and_changes(folder, base)
        for chunk in summarise_many(paths, taxonomy_root(folder)):
            if worker.is_cancelled:
                return
            self.post_message(Summarised(chunk))

    def read_runs_and_changes(self, folder: Path, base: str | None) -> None:
        try:
            self.post_message(ChangesRead(changed_skill_files(folder, base), None))
        except TaxonomyError as error:
            self.post_message(ChangesRead(None, str(error)))
        db = open_existing_db(self.app.db_path)
        runs = {}
        if db is not None:
            for skill_path, run in last_run_by_skill(db).items():
                runs[Path(skill_path).resolve()] = run
            db.close()
        self.post_message(RunsRead(runs))

    @work(thread=True, exclusive=True, group="skills-refresh", exit_on_error=False,
          name="Reading the skills")
    def refresh_after_visit(self, folder: Path, skill_path: Path | None) -> None:
        self.read_runs_and_changes(folder, self.app.options.get("base"))
        if skill_path is not None and Path(skill_path).resolve() in self.rows:
            self.post_message(Summarised([summarise(Path(skill_path).resolve(), taxonomy_root(folder))]))

    @on(Found)
    def found(self, message: Found) -> None:
        if message.folder != self.folder:
            return
        if message.paths is None:
            self.error = message.error
        else:
            shorts = distinct_skill_names(message.paths)
            self.rows = {path: SkillRow(path, path.parent.relative_to(self.folder).as_posix() or ".", shorts[str(path)])
                         for path in message.paths}
        self.show_rows()

    @on(ChangesRead)
    def changes_read(self, message: ChangesRead) -> None:
        self.changes, self.changes_error = message.changes, message.error
        changed = message.changes.paths if message.changes else frozenset()
        for path, row in self.rows.items():
            row.changed = path in changed
        if self.changed_only and self.changes_error:
            self.changed_only = False
            self.notify(self.changes_error, title="Cannot show changed skills", severity="error")
        self.show_rows()

    @on(Summarised)
    def summarised(self, message: Summarised) -> None:
        for summary in message.summaries:
            row = self.rows.get(summary.path)
            if row is not None:
                self.linted += row.summary is None
                row.summary = summary
        self.show_summary()
        self.query_one(SkillList).refresh()
        self.show_detail(self.query_one(SkillList).current)

    @on(RunsRead)
    def runs_read(self, message: RunsRead) -> None:
        for path, row in self.rows.items():
            row.run = message.runs.get(path)
        self.query_one(SkillList).refresh()

    # ----- showing ------------------------------------------------------------------------------

    def show_rows(self) -> None:
        listing = self.query_one(SkillList)
        keep = listing.current.path if listing.current else None
        rows = [row for row in self.rows.values() if not self.changed_only or row.changed]
        listing.show(rows, keep)
        self.show_summary()

    def show_summary(self) -> None:
        status = Text(" ")
        status.append_text(literal(one_line(self.folder.name if self.folder else "no folder", 30), style="bold"))
        self.query_one(StatusBar).status = status
        self.app.sub_title = clean(self.folder.name) if self.folder else ""
        if self.error:
            self.query_one("#skills-summary", Static).update(literal(self.error))
            return
        skills = sum(1 for row in self.rows.values() if row.summary is None or row.summary.handled)
        line = Text(f"{len(self.rows)} files · {skills} skills")
        if self.changes is not None:
            line.append(f" · {len(self.changes.paths)} changed vs ")
            line.append_text(literal(one_line(self.changes.base, 24)))
        elif self.changes_error is not None:
            line.append(" · changed: unknown (c says why)")
        if self.linted < len(self.rows):
            line.append(f" · linting {self.linted}/{len(self.rows)}")
        if self.changed_only:
            line.append(" · showing changed only", style="bold")
        self.query_one("#skills-summary", Static).update(line)

    @on(SkillList.Highlighted)
    def highlighted(self, message: SkillList.Highlighted) -> None:
        self.show_detail(message.row)

    def show_detail(self, row: SkillRow | None) -> None:
        detail = Text(no_wrap=True, overflow="ellipsis")
        if row is not None:
            detail.append_text(literal(one_line(row.name, max(20, self.size.width // 2))))
            summary = row.summary
            if summary is not None and not summary.handled:
                detail.append(f" · {summary.kind}: lab-tui lists it but works on compositional skills")
            elif summary is not None and summary.flow == "mixed":
                detail.append(" · mixed: " + MIXED_FLOW_MESSAGE)
            elif summary is not None and summary.flow is None:
                detail.append(" · does not parse: enter opens it as raw text to fix")
            elif row.run is not None:
                detail.append_text(literal(f" · run {row.run['id']} · {row.run['accepted']} accepted"))
        elif self.changed_only and self.changes is not None:
            detail.append("No skill changed against ")
            detail.append_text(literal(self.changes.base))
            detail.append(" (c shows them all)")
        self.query_one("#skills-detail", Static).update(detail)

    # ----- actions ------------------------------------------------------------------------------

    def action_toggle_changed(self) -> None:
        if self.changes_error and not self.changed_only:
            self.notify(self.changes_error, title="Cannot show changed skills", severity="error")
            return
        self.changed_only = not self.changed_only
        if self.changed_only and self.changes is not None and self.changes.note:
            self.notify(self.changes.note)
        self.show_rows()

    def action_open_skill(self) -> None:
        """Open the skill in the Seeds pane (through the app), which first asks about its own unsaved edits."""
        row = self.query_one(SkillList).current
        if row is None:
            return
        if row.summary is not None and not row.summary.handled:
            self.notify(f"{one_line(row.name, 60)} is {row.summary.kind}: lab-tui works on compositional skills.",
                        severity="warning")
            return
        self.post_message(OpenSkill(row.path))
