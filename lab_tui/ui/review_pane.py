"""The Review pane: one pair at a time, decided with single keys, committed as the key is pressed.

Focus stays on the (non-text) pair view, so `a`, `x`, `space`... reach the pane; editing and
notes happen in explicit modal dialogs (ctrl+s saves, escape cancels), never in a focused
TextArea on the pane. Every database call runs on one worker thread owned by the pane (one
connection, calls in key order), so a reviewer waiting for another's write lock never freezes
the screen, and verdicts land in the order the keys were pressed.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Select, Static, TextArea

from lab_tui.config import data_dir
from lab_tui.store import review
from lab_tui.store.db import open_db
from lab_tui.store.export import judges
from lab_tui.store.queries import list_runs
from lab_tui.store.review import ReviewFilter, Session, VerdictConflict, login_name
from lab_tui.ui.pane import PaneScreen
from lab_tui.ui.safe_text import clean, literal, one_line
from lab_tui.ui.widgets.status_bar import StatusBar

FOLLOW_EVERY_S = 1.0
"""How often the pane asks SQLite whether another reviewer committed (a PRAGMA, not a query)."""


class EditDialog(ModalScreen[tuple[str, str] | None]):
    """Edit the question and response; ctrl+s accepts the pair with the edits, escape leaves it."""

    BINDINGS = [Binding("ctrl+s", "save", "Accept edited"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    EditDialog { align: center middle; }
    EditDialog > Vertical { width: 90%; height: 90%; border: thick $primary; background: $surface; }
    EditDialog TextArea { height: 1fr; }
    EditDialog Label { color: $text-muted; }
    """

    def __init__(self, question: str, response: str) -> None:
        super().__init__()
        self.question, self.response = question, response

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Question")
            yield TextArea(self.question, id="edit-question", soft_wrap=True)
            yield Label("Response  (ctrl+s accept edited · escape cancel)")
            yield TextArea(self.response, id="edit-response", soft_wrap=True)

    def on_mount(self) -> None:
        self.query_one("#edit-response", TextArea).focus()

    def action_save(self) -> None:
        self.dismiss((self.query_one("#edit-question", TextArea).text, self.query_one("#edit-response", TextArea).text))

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteDialog(ModalScreen[str | None]):
    """A note or reason code for the pair (enter or ctrl+s saves, escape cancels)."""

    BINDINGS = [Binding("ctrl+s", "save", "Save note"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    NoteDialog { align: center middle; }
    NoteDialog > Vertical { width: 70; height: auto; border: thick $primary; background: $surface; }
    """

    def __init__(self, note: str) -> None:
        super().__init__()
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Note or reason code (enter saves, escape cancels)")
            yield Input(self.note, id="note")

    @on(Input.Submitted)
    def action_save(self) -> None:
        self.dismiss(self.query_one("#note", Input).value)

    def action_cancel(self) -> None:
        self.dismiss(None)


FILTER_FIELDS = (
    ("run_id", "Run"),
    ("outcome", "Outcome (kept, filtered, or empty for both)"),
    ("status", "Status (pending, accepted, rejected, skipped, or empty for any)"),
    ("min_score", "Minimum pair score"),
    ("max_score", "Maximum pair score"),
    ("reviewer", "Reviewer"),
    ("search", "Text in question or response"),
    ("skill", "Skill (part of its path, e.g. its folder name)"),
    ("batch_id", "Batch (lab-tui run with several skills)"),
)


class FilterDialog(ModalScreen[ReviewFilter | None]):
    """Every filter of the queue in one form; enter or ctrl+s applies, escape keeps the old one."""

    BINDINGS = [Binding("ctrl+s", "save", "Apply"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    FilterDialog { align: center middle; }
    FilterDialog > Vertical { width: 72; height: auto; max-height: 100%; border: thick $primary;
                              background: $surface; }
    FilterDialog Input { height: 1; border: none; padding: 0 1; background: $boost; }
    FilterDialog Input:focus { border: none; background: $primary 30%; }
    FilterDialog Label { color: $text-muted; }
    FilterDialog Select { margin: 0 0; }
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
            for name, label in FILTER_FIELDS:
                value = getattr(self.current, name)
                yield Label(label)
                if name == "run_id":
                    yield Select(self.run_options(), prompt="any run", value=value or Select.NULL,
                                 id="filter-run_id", compact=True)
                else:
                    yield Input("" if value is None else str(value), id=f"filter-{name}")
            yield Label("", id="filter-error")

    def on_mount(self) -> None:
        self.query_one(f"#filter-{self.first}").focus()

    @on(Input.Submitted)
    def action_save(self) -> None:
        values: dict[str, Any] = {name: self.query_one(f"#filter-{name}", Input).value.strip() or None
                                  for name, _ in FILTER_FIELDS if name != "run_id"}
        run = self.query_one("#filter-run_id", Select)
        values["run_id"] = None if run.is_blank() else run.value
        try:
            for name in ("min_score", "max_score"):
                if values[name] is not None:
                    values[name] = float(values[name])
        except ValueError:
            self.query_one("#filter-error", Label).update("Scores must be numbers.")
            return
        self.dismiss(ReviewFilter(**values))

    def action_cancel(self) -> None:
        self.dismiss(None)


class PairView(VerticalScroll, can_focus=True):
    """The pair on screen; focusable so the pane's letter keys work and arrows scroll long text."""


class ReviewScreen(PaneScreen):
    BINDINGS = [
        Binding("a", "verdict('accepted')", "Accept", id="review.accept"),
        Binding("x", "verdict('rejected')", "Reject", id="review.reject"),
        Binding("space", "verdict('skipped')", "Skip", key_display="spc", id="review.skip"),
        Binding("u,backspace", "undo", "Undo", id="review.undo"),
        Binding("e", "edit", "Edit", id="review.edit"),
        Binding("n", "note", "Note", id="review.note"),
        Binding("f", "filter", "Filter", id="review.filter"),
        Binding("slash", "filter('search')", "Find", key_display="/", show=False, id="review.search"),
        Binding("p", "promote", "Seed", id="review.promote"),
        Binding("E", "export", "Export", id="review.export"),
        Binding("r", "reload", "Reload", show=False, id="review.reload"),
        Binding("q", "app.quit", "Quit", id="review.quit"),
    ]
    DEFAULT_CSS = """
    #review-head { height: 4; padding: 0 1; background: $boost; }
    #review-body { height: 1fr; padding: 0 1; }
    #review-body:focus { background-tint: $foreground 3%; }
    .review-label { color: $text-muted; text-style: bold; margin-top: 1; }
    .review-label.review-edited { color: $warning; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.pair: dict | None = None
        self.position = 0
        self.filter = ReviewFilter()
        self.session = Session(login_name())
        self.seen_version: int | None = None
        """The database's data_version when last read: it moves when another reviewer commits."""
        self.undo_stack: list[tuple[str, int]] = []
        self.counts: dict[str, int] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-db")
        self._local = threading.local()

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(id="review-head")
        with PairView(id="review-body"):
            for name in ("question", "response"):
                yield Static(name.title(), id=f"label-{name}", classes="review-label")
                yield Static(id=f"edited-{name}")
                yield Static(f"original {name}", id=f"original-label-{name}", classes="review-label")
                yield Static(id=f"text-{name}")
            yield Static("Context", id="label-context", classes="review-label")
            yield Static(id="text-context")
            yield Static(id="text-judges")
        yield Footer(compact=True, show_command_palette=False)

    async def on_mount(self) -> None:
        options = getattr(self.app, "options", {})
        self.session = Session(options.get("reviewer") or login_name())
        if self.filter == ReviewFilter():  # review_run() may have chosen a run before the pane was mounted
            self.filter = ReviewFilter(run_id=options.get("run_id"), batch_id=options.get("batch_id"))
        self.query_one(PairView).focus()
        await self.advance(0)
        self.seen_version = await self.db(review.changed_elsewhere)
        self.set_interval(FOLLOW_EVERY_S, self.follow_others)

    def on_unmount(self) -> None:
        if self.pair is not None and self.pair["status"] == "pending":
            self._executor.submit(self._call, review.release, self.pair["id"], self.session)
        self._executor.shutdown(wait=True)

    def _call(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        if getattr(self._local, "db", None) is None:
            self._local.db = open_db(self.app.db_path)
        return function(self._local.db, *args, **kwargs)

    async def db(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run `function(db, ...)` on the pane's database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(self._call, function, *args, **kwargs))

    async def advance(self, after: int) -> None:
        self.show(await self.db(review.next_pair, self.session, self.filter, after))
        self.refresh_counts()

    @work(exclusive=True, group="review-follow", exit_on_error=False)
    async def follow_others(self) -> None:
        """Each second: if another reviewer committed, recount, and pick up work if the queue was empty."""
        version = await self.db(review.changed_elsewhere)
        if version == self.seen_version:
            return
        self.seen_version = version
        if self.pair is None:
            await self.advance(self.position)
        else:
            await self.reload_pair()

    async def reload_pair(self) -> None:
        """Show the pair as the database has it now, and fresh counters."""
        if self.pair is not None:
            fresh = await self.db(review.get_pair, self.pair["id"])
            if fresh != self.pair:
                self.show(fresh)
        self.counts = await self.db(review.counts, self.filter)
        self.update_status()

    def review_run(self, run_id: str) -> None:
        """Walk this run's pending pairs (the Run pane's ctrl+r)."""
        self.filter = ReviewFilter(run_id=run_id)
        if self.is_mounted:
            self.run_worker(self.advance(0), group="review-follow", exclusive=True)

    async def action_reload(self) -> None:
        if self.pair is None:
            await self.advance(self.position)
        else:
            await self.reload_pair()

    def count_change(self, before: str, after: str) -> None:
        """Keep the counters right after our own verdict without a counting query per key."""
        if self.counts and before != after:
            self.counts[before] = self.counts.get(before, 0) - 1
            self.counts[after] = self.counts.get(after, 0) + 1
            self.update_status()

    @work(exclusive=True, group="review-counts", exit_on_error=False)
    async def refresh_counts(self) -> None:
        self.counts = await self.db(review.counts, self.filter)
        self.update_status()

    def update_status(self) -> None:
        self.query_one(StatusBar).status = Text.assemble(
            (" Review ", "bold"), (one_line(self.session.name, 24), "dim"))
        self.show_head()

    def counters(self) -> Text:
        counters = Text()
        for name in ("pending", "accepted", "rejected", "skipped"):
            counters.append(f"{name} ", style="dim")
            counters.append(f"{self.counts.get(name, 0)}  ", style="bold")
        return counters

    def filter_line(self) -> Text:
        """The active filter on a line of its own, so it is never cut off at 80 columns."""
        return Text.assemble(("filter ", "dim"), literal(one_line(self.filter.describe(), 66)), ("  (f)", "dim"))

    def show_head(self) -> None:
        head = self.query_one("#review-head", Static)
        pair = self.pair
        if pair is None:
            head.update(Text("\n").join([self.counters(), self.filter_line(), Text(
                "No pair to review: f changes the filter; u undoes the last verdict.")]))
            return
        line1 = Text.assemble(
            ("run ", "dim"), one_line(pair["run_id"], 20), ("  seed ", "dim"), str(pair["seed_index"]),
            ("  pair ", "dim"), one_line(pair["id"], 14), ("  ", ""), (pair["status"].upper(), "bold"),
            ("  by " + one_line(pair["reviewer"], 16) if pair["reviewer"] else "", "dim"))
        scores = [part for judge in judges(pair)
                  for part in ((f"{one_line(str(judge.get('label') or judge.get('judge')), 20)} ", "dim"),
                               _score(judge.get("score")) + "  ")]
        line2 = Text.assemble(*scores,
                              (pair["outcome"], "italic"),
                              ("  note: " + one_line(pair["note"], 40) if pair["note"] else "", "dim"))
        head.update(Text("\n").join([self.counters(), self.filter_line(), line1, line2]))

    def show(self, pair: dict | None) -> None:
        """Put the pair on screen by updating a fixed set of widgets (mounting new ones per pair is slow)."""
        self.pair = pair
        self.show_head()
        body = self.query_one(PairView)
        body.display = pair is not None
        if pair is None:
            return
        self.position = pair["position"]
        for name in ("question", "response"):
            edited = pair[f"edited_{name}"]
            label = self.query_one(f"#label-{name}", Static)
            label.update(f"{name.title()} (edited; original below)" if edited is not None else name.title())
            label.set_class(edited is not None, "review-edited")
            self.query_one(f"#edited-{name}", Static).update(literal(edited or ""))
            self.query_one(f"#edited-{name}", Static).display = edited is not None
            self.query_one(f"#original-label-{name}", Static).display = edited is not None
            self.query_one(f"#text-{name}", Static).update(literal(pair[name] or ""))
        self.query_one("#text-context", Static).update(literal(pair["context"] or ""))
        for name in ("#label-context", "#text-context"):
            self.query_one(name, Static).display = pair["context"] is not None
        verdicts = Text()
        for judge in judges(pair):
            label = str(judge.get("label") or judge.get("judge") or "judge")
            verdicts.append(f"\n{label[:1].upper()}{label[1:]}: {_score(judge.get('score'))}\n", style="bold")
            verdicts.append_text(literal(str(judge.get("explanation") or "")))
            verdicts.append("\n")
        self.query_one("#text-judges", Static).update(verdicts)
        body.scroll_home(animate=False)

    async def action_verdict(self, status: str, **edits: str | None) -> None:
        pair = self.pair
        if pair is None:
            return
        try:
            version = await self.db(review.record_verdict, pair["id"], self.session, status, pair["version"], **edits)
        except VerdictConflict as error:
            self.notify(f"{error}. It is shown as it is now: decide again, or space moves on (r reloads).", title="Not saved",
                        severity="error", markup=False)
            await self.reload_pair()
            return
        self.undo_stack.append((pair["id"], version))
        self.count_change(pair["status"], status)
        self.show(await self.db(review.next_pair, self.session, self.filter, pair["position"]))

    async def action_undo(self) -> None:
        if not self.undo_stack:
            self.notify("Nothing to undo in this session.", markup=False)
            return
        pair_id, version = self.undo_stack.pop()
        if self.pair is not None and self.pair["status"] == "pending" and self.pair["id"] != pair_id:
            await self.db(review.release, self.pair["id"], self.session)
        try:
            await self.db(review.undo, pair_id, self.session, version)
        except VerdictConflict as error:
            self.notify(str(error), title="Not undone", severity="error", markup=False)
        self.show(await self.db(review.get_pair, pair_id))
        self.refresh_counts()

    def action_edit(self) -> None:
        pair = self.pair
        if pair is None:
            return

        async def done(result: tuple[str, str] | None) -> None:
            if result is None or self.pair is not pair:
                return
            question, response = result
            await self.action_verdict(
                "accepted",
                edited_question=question if question != pair["question"] else None,
                edited_response=response if response != pair["response"] else None)

        self.app.push_screen(EditDialog(pair["edited_question"] or pair["question"],
                                        pair["edited_response"] or pair["response"]), done)

    def action_note(self) -> None:
        pair = self.pair
        if pair is None:
            return

        async def done(note: str | None) -> None:
            if note is None or self.pair is not pair:
                return
            try:
                await self.db(review.record_verdict, pair["id"], self.session, pair["status"], pair["version"],
                              note=note)
            except VerdictConflict as error:
                self.notify(str(error), title="Not saved", severity="error", markup=False)
            self.show(await self.db(review.get_pair, pair["id"]))

        self.app.push_screen(NoteDialog(pair["note"] or ""), done)

    async def action_filter(self, focus: str = "run_id") -> None:
        async def done(new: ReviewFilter | None) -> None:
            if new is None:
                return
            if self.pair is not None and self.pair["status"] == "pending":
                await self.db(review.release, self.pair["id"], self.session)
            self.filter = new
            await self.advance(0)

        self.app.push_screen(FilterDialog(self.filter, await self.db(list_runs), focus), done)

    async def action_promote(self) -> None:
        """Append the pair (with its edits) to the open skill's seed examples, save atomically, re-lint."""
        pair, path = self.pair, getattr(self.app, "skill_path", None)
        if pair is None or path is None:
            self.notify("No pair, or no skill file open.", severity="warning")
            return
        message, ok = await asyncio.to_thread(_promote, pair, Path(path))
        self.notify(message, title="Promote to seed", severity="information" if ok else "error", markup=False)

    async def action_export(self) -> None:
        """Write the accepted pairs of the current run (as `lab-tui export` does) to the exports folder."""
        run_id = self.filter.run_id or (self.pair or {}).get("run_id")
        if run_id is None:
            self.notify("Choose a run first (f).", severity="warning")
            return
        target = data_dir() / "exports" / f"{run_id}-accepted.jsonl"
        count = await self.db(_export, run_id, target)
        self.notify(f"{count} accepted pair(s) written to {target}", title="Exported", markup=False)


def _export(db, run_id: str, target: Path) -> int:
    from lab_tui.store.export import build_export, write_export

    export = build_export(db, [run_id], status="accepted")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_export(target, export)
    return len(export.records)


def _promote(pair: dict, path: Path) -> tuple[str, bool]:
    from lab_tui.seeds import SeedExample, lint_skill, load_skill, save_skill

    loaded = load_skill(path)
    if loaded.skill is None:
        return f"{path.name} does not parse; fix it in the Seeds pane first.", False
    skill = loaded.skill
    # Model text never carries a control character (an escape sequence) into a seed file.
    skill.examples.append(SeedExample(question=clean(pair["edited_question"] or pair["question"]),
                                      answer=clean(pair["edited_response"] or pair["response"]),
                                      context=None if pair["context"] is None else clean(pair["context"])))
    save_skill(skill, path)
    errors = [finding for finding in lint_skill(skill) if finding.severity == "error"]
    return f"Seed example {len(skill.examples)} added to {path.name}; {len(errors)} lint error(s).", not errors


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"
