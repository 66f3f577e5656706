"""The Review pane: one pair at a time, decided with single keys, committed as the key is pressed.

Focus stays on the (non-text) pair view, so `a`, `x`, `space`... reach the pane; editing and
notes happen in explicit modal dialogs (ctrl+s saves, escape cancels), never in a focused
TextArea on the pane. Every database call runs on one worker thread owned by the pane (one
connection, calls in key order), so a reviewer waiting for another's write lock never freezes
the screen, and verdicts land in the order the keys were pressed.

A write the database refuses (a full disk, an I/O error) is said and loses nothing: the pair
stays shown as it was, the key can be pressed again, and an edit or a note that was not saved
comes back in its dialog. While the pane lives it renews the claim on the pair it shows
(`review.renew`), so the claim of a session that is gone lapses within `review.LEASE_S`, and an
empty queue looks again when another session's claim lapses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
import time
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
from textual.widgets import Footer, Input, Label, Select, Static

from lab_tui.config import data_dir
from lab_tui.store import review
from lab_tui.store.db import open_db
from lab_tui.store.export import judges
from lab_tui.store.queries import list_runs
from lab_tui.store.review import ReviewFilter, Session, VerdictConflict, login_name
from lab_tui.ui.messages import SeedFileChanged
from lab_tui.ui.pane import PaneScreen
from lab_tui.ui.safe_text import clean, literal, one_line
from lab_tui.ui.widgets.safe_text_area import SafeInput, SafeTextArea
from lab_tui.ui.widgets.status_bar import StatusBar

FOLLOW_EVERY_S = 1.0
"""How often the pane asks SQLite whether another reviewer committed (a PRAGMA, not a query)."""


class EditDialog(ModalScreen[tuple[str, str] | None]):
    """Edit the question and response; ctrl+s accepts the pair with the edits, escape leaves it."""

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
        self.query_one("#edit-response", SafeTextArea).focus()

    def action_save(self) -> None:
        self.dismiss((self.query_one("#edit-question", SafeTextArea).text,
                      self.query_one("#edit-response", SafeTextArea).text))

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
            yield SafeInput(self.note, id="note")

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
    ("seed_index", "Seed example (its number in the Seeds pane)"),
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
                elif name == "seed_index":
                    yield SafeInput("" if value is None else str(value + 1), id="filter-seed_index", type="integer")
                else:
                    yield SafeInput("" if value is None else str(value), id=f"filter-{name}")
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
        self.seen_decided: tuple | None = None
        """`review.decided_so_far` when last read: it moves with verdicts and new pairs, not with claims."""
        self.look_again_at: float | None = None
        """With the queue empty: when another session's claim lapses unless renewed (nothing commits then)."""
        self.lost_claim: str | None = None
        """The pair whose claim another session took while this one was not heard from (said once)."""
        self.undo_stack: list[tuple[str, int]] = []
        self.counts: dict[str, int] = {}
        self.changing_filter = asyncio.Lock()
        """Held while the queue moves to a new filter, so following others never shows a pair of the old one."""
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
        self.session = Session(self.app.options.get("reviewer") or login_name())
        self.filter = self.app.review_filter
        self.query_one(PairView).focus()
        try:
            await self.advance(0)
        except sqlite3.Error as error:
            self.not_saved("The first pair could not be claimed", error, "r tries again")
        self.seen_version = await self.db(review.changed_elsewhere)
        self.seen_decided = await self.db(review.decided_so_far)
        self.set_interval(FOLLOW_EVERY_S, self.follow_others)
        self.set_interval(review.RENEW_EVERY_S, self.renew_claim)

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

    def not_saved(self, what: str, error: Exception, then: str) -> None:
        """Say that the database refused a write (a full disk, an I/O error) and what the reviewer can do."""
        self.notify(f"{what}: the database cannot be written ({error}). Nothing is lost: {then}.",
                    title="Not saved", severity="error", timeout=15)

    async def advance(self, after: int, recount: bool = True) -> None:
        """Show the next pair of the queue after position `after` (claiming it), and count again unless
        the caller keeps the counters right itself."""
        pair = await self.db(review.next_pair, self.session, self.filter, after)
        self.look_again_at = None if pair is not None else await self.db(review.next_release, self.session,
                                                                         self.filter)
        self.show(pair)
        if recount:
            self.refresh_counts()

    @work(exclusive=True, group="review-follow", exit_on_error=False)
    async def follow_others(self) -> None:
        """Each second: if another session committed, pick up work if the queue was empty, and show the pair
        and count again if verdicts or pairs were added (a claim taken, renewed or released adds neither);
        an empty queue also looks again when another session's claim has lapsed."""
        if self.changing_filter.locked():
            return  # the new filter's first pair is on its way; the next second looks again
        version = await self.db(review.changed_elsewhere)
        lapsed = self.pair is None and self.look_again_at is not None and time.time() >= self.look_again_at
        if version == self.seen_version and not lapsed:
            return
        self.seen_version = version
        decided = await self.db(review.decided_so_far)
        recount, self.seen_decided = decided != self.seen_decided, decided
        if self.pair is None:
            await self.advance(self.position, recount=recount)
        elif recount:
            await self.reload_pair()

    @work(exclusive=True, group="review-claim", exit_on_error=False)
    async def renew_claim(self) -> None:
        """Keep the claim on the shown pair alive while this session is; say so once if another took it."""
        pair = self.pair
        if pair is None or pair["status"] != "pending":
            return
        if not await self.db(review.renew, pair["id"], self.session) and self.lost_claim != pair["id"]:
            self.lost_claim = pair["id"]
            self.notify("Another reviewer has this pair now (this session was not heard from for a while): "
                        "a verdict here is refused if they decide first.", severity="warning")

    async def reload_pair(self) -> None:
        """Show the pair as the database has it now, and fresh counters."""
        if self.pair is not None:
            fresh = await self.db(review.get_pair, self.pair["id"])
            if fresh != self.pair:
                self.show(fresh)
        self.counts = await self.db(review.counts, self.filter)
        self.update_status()

    def review(self, pairs: ReviewFilter) -> None:
        """Walk these pairs: the app's answer to `ReviewPairs` (the Run pane's ctrl+r, ...)."""
        self.run_worker(self.change_filter(pairs), group="review-filter", exclusive=True, exit_on_error=False)

    async def change_filter(self, pairs: ReviewFilter) -> None:
        async with self.changing_filter:
            if self.pair is not None and self.pair["status"] == "pending":
                await self.db(review.release, self.pair["id"], self.session)
            self.filter = pairs
            await self.advance(0)

    async def action_reload(self) -> None:
        try:
            if self.pair is None:
                await self.advance(self.position)
            else:
                await self.reload_pair()
        except sqlite3.Error as error:
            self.not_saved("Not reloaded", error, "r tries again")

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
        seed = "–" if pair["seed_index"] is None else str(pair["seed_index"] + 1)
        line1 = Text.assemble(
            ("run ", "dim"), one_line(pair["run_id"], 20), ("  seed ", "dim"), seed,
            ("  pair ", "dim"), one_line(pair["id"], 14), ("  ", ""), (clean(pair["status"]).upper(), "bold"),
            ("  by " + one_line(pair["reviewer"], 16) if pair["reviewer"] else "", "dim"))
        scores = [part for judge in judges(pair)
                  for part in ((f"{one_line(str(judge.get('label') or judge.get('judge')), 20)} ", "dim"),
                               _score(judge.get("score")) + "  ")]
        line2 = Text.assemble(*scores,
                              (clean(pair["outcome"]), "italic"),
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
            verdicts.append_text(literal(f"\n{label[:1].upper()}{label[1:]}: {_score(judge.get('score'))}\n",
                                         style="bold"))
            verdicts.append_text(literal(str(judge.get("explanation") or "")))
            verdicts.append("\n")
        self.query_one("#text-judges", Static).update(verdicts)
        body.scroll_home(animate=False)

    async def action_verdict(self, status: str, **edits: str | None) -> bool:
        """Commit the verdict and show the next pair; False when it was not saved (the pair is then shown
        as the database has it, so the key can be pressed again)."""
        pair = self.pair
        if pair is None:
            return False
        try:
            version = await self.db(review.record_verdict, pair["id"], self.session, status, pair["version"], **edits)
        except VerdictConflict as error:
            self.notify(f"{error}. It is shown as it is now: decide again, or space moves on (r reloads).",
                        title="Not saved", severity="error")
            await self.reload_pair()
            return False
        except sqlite3.Error as error:
            self.not_saved("The verdict was not saved", error,
                           f"the pair stays {pair['status']}; press the key again once the disk has room")
            return False
        self.undo_stack.append((pair["id"], version))
        self.count_change(pair["status"], status)
        try:
            await self.advance(pair["position"], recount=False)
        except sqlite3.Error as error:
            self.show(None)
            self.not_saved("The verdict is saved, but the next pair could not be claimed", error, "r tries again")
        return True

    async def action_undo(self) -> None:
        if not self.undo_stack:
            self.notify("Nothing to undo in this session.")
            return
        pair_id, version = self.undo_stack[-1]
        try:
            if self.pair is not None and self.pair["status"] == "pending" and self.pair["id"] != pair_id:
                await self.db(review.release, self.pair["id"], self.session)
            await self.db(review.undo, pair_id, self.session, version)
        except VerdictConflict as error:
            self.notify(str(error), title="Not undone", severity="error")
        except sqlite3.Error as error:
            self.not_saved("The verdict was not undone", error, "u tries again")
            return
        self.undo_stack.pop()
        self.show(await self.db(review.get_pair, pair_id))
        self.refresh_counts()

    def action_edit(self) -> None:
        pair = self.pair
        if pair is not None:
            self.edit(pair["id"], pair["edited_question"] or pair["question"],
                      pair["edited_response"] or pair["response"])

    def edit(self, pair_id: str, question: str, response: str) -> None:
        """The edit dialog on this text; an edit that is not saved comes back in it, never lost."""
        async def done(result: tuple[str, str] | None) -> None:
            pair = self.pair
            if result is None or pair is None or pair["id"] != pair_id:
                return
            question, response = result
            if not await self.action_verdict(
                    "accepted",
                    edited_question=question if question != pair["question"] else None,
                    edited_response=response if response != pair["response"] else None):
                self.edit(pair_id, question, response)

        self.app.push_screen(EditDialog(question, response), done)

    def action_note(self) -> None:
        if self.pair is not None:
            self.write_note(self.pair["id"], self.pair["note"] or "")

    def write_note(self, pair_id: str, note: str) -> None:
        """The note dialog on this text; a note that is not saved comes back in it, never lost."""
        async def done(note: str | None) -> None:
            pair = self.pair
            if note is None or pair is None or pair["id"] != pair_id:
                return
            try:
                await self.db(review.record_verdict, pair_id, self.session, pair["status"], pair["version"], note=note)
            except VerdictConflict as error:
                self.notify(str(error), title="Not saved", severity="error")
            except sqlite3.Error as error:
                self.not_saved("The note was not saved", error, "it is back in its dialog")
                self.write_note(pair_id, note)
                return
            self.show(await self.db(review.get_pair, pair_id))

        self.app.push_screen(NoteDialog(note), done)

    async def action_filter(self, focus: str = "run_id") -> None:
        async def done(new: ReviewFilter | None) -> None:
            if new is not None:
                try:
                    await self.change_filter(new)
                except sqlite3.Error as error:
                    self.not_saved("The filter is set, but no pair could be claimed", error, "r tries again")

        self.app.push_screen(FilterDialog(self.filter, await self.db(list_runs), focus), done)

    async def action_promote(self) -> None:
        """Append the pair (with its edits) to the open skill's seed examples, save atomically, re-lint;
        a Seeds pane showing that file catches up (`SeedFileChanged`, routed by the app)."""
        pair, path = self.pair, self.app.skill_path
        if pair is None or path is None:
            self.notify("No pair, or no skill file open.", severity="warning")
            return
        message, ok, written = await asyncio.to_thread(_promote, pair, Path(path))
        if written is not None:
            self.post_message(SeedFileChanged(Path(path), *written))
        self.notify(message, title="Promote to seed", severity="information" if ok else "error")

    async def action_export(self) -> None:
        """Write the accepted pairs of the current run (as `lab-tui export` does) to the exports folder."""
        run_id = self.filter.run_id or (self.pair or {}).get("run_id")
        if run_id is None:
            self.notify("Choose a run first (f).", severity="warning")
            return
        target = data_dir() / "exports" / f"{run_id}-accepted.jsonl"
        try:
            count = await self.db(_export, run_id, target)
        except (OSError, sqlite3.Error) as error:
            self.notify(f"Nothing exported to {target}: {getattr(error, 'strerror', None) or error}.",
                        title="Not exported", severity="error")
            return
        self.notify(f"{count} accepted pair(s) written to {target}", title="Exported")


def _export(db, run_id: str, target: Path) -> int:
    from lab_tui.store.export import build_export, write_export

    export = build_export(db, [run_id], status="accepted")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_export(target, export)
    return len(export.records)


def _promote(pair: dict, path: Path) -> tuple[str, bool, tuple | None]:
    """Append the pair to the skill file if it is still as read; the message, whether it went well,
    and (the file's stamp before, after, the examples added) when something was written."""
    from lab_tui.seeds import SeedExample, lint_skill, load_skill, save_skill
    from lab_tui.seeds.io import FileChanged

    loaded = load_skill(path)
    if loaded.skill is None:
        return f"{path.name} does not parse; fix it in the Seeds pane first.", False, None
    skill = loaded.skill
    # Model text never carries a control character (an escape sequence) into a seed file.
    example = SeedExample(question=clean(pair["edited_question"] or pair["question"]),
                          answer=clean(pair["edited_response"] or pair["response"]),
                          context=None if pair["context"] is None else clean(pair["context"]))
    skill.examples.append(example)
    try:
        after = save_skill(skill, path, loaded.stamp)
    except FileChanged:
        return f"{path.name} changed on disk while the pair was being added: nothing written, p tries again.", \
            False, None
    except OSError as error:
        return f"Could not write {path.name}: {error.strerror or error}. Nothing written.", False, None
    errors = [finding for finding in lint_skill(skill) if finding.severity == "error"]
    return (f"Seed example {len(skill.examples)} added to {path.name}; {len(errors)} lint error(s).", not errors,
            (loaded.stamp, after, [example]))


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"
