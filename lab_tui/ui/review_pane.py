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

The reviewer steers: previous and next pair in the filter's order (the queue's, or riskiest first),
the recent decisions to go back to, a bulk verdict on the whole filter (counted, confirmed, and
undone in one step), reject reason codes, and the pair's seed example one key away.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Static

from lab_tui.config import data_dir
from lab_tui.errors import UserError
from lab_tui.store import review
from lab_tui.store.db import open_db
from lab_tui.store.export import export_to_file
from lab_tui.store.pairs import Pair
from lab_tui.store.queries import get_run, list_runs
from lab_tui.store.review import ReviewFilter, Session, VerdictConflict, login_name
from lab_tui.ui.dialogs import ChoiceDialog
from lab_tui.ui.messages import OpenSkill, SeedFileChanged
from lab_tui.ui.pane import PaneScreen
from lab_tui.ui.review_dialogs import (EditDialog, ExportDialog, ExportRequest, FilterDialog, NoteDialog,
                                       RecentDialog, RejectDialog)
from lab_tui.ui.safe_text import clean, literal, one_line
from lab_tui.ui.widgets.status_bar import StatusBar

FOLLOW_EVERY_S = 1.0
"""How often the pane asks SQLite whether another reviewer committed (a PRAGMA, not a query)."""
BAR_WIDTH = 16
SETTLE_S = 0.3
"""How long the reviewer stays on a pair (or pauses between verdicts) before the header's counts over the
whole filter ("pair n of N", the judges against reviewers) are made: a fast run of keys never waits for them."""


@dataclass(frozen=True)
class Undoable:
    """What `u` takes back: one verdict, or every verdict of one bulk action."""

    decided: list[tuple[str, int]]
    """(pair id, version after the verdict) of each pair decided."""
    bulk: bool = False


class PairView(VerticalScroll, can_focus=True):
    """The pair on screen; focusable so the pane's letter keys work and arrows scroll long text."""


class ReviewScreen(PaneScreen):
    BINDINGS = [
        Binding("a", "verdict('accepted')", "Accept", id="review.accept"),
        Binding("x", "verdict('rejected')", "Reject", id="review.reject"),
        Binding("space", "verdict('skipped')", "Skip", key_display="spc", id="review.skip"),
        Binding("u,backspace", "undo", "Undo", id="review.undo"),
        Binding("E", "export", "Export", id="review.export"),
        Binding("q", "app.quit", "Quit", id="review.quit"),
        Binding("e", "edit", "Edit", id="review.edit"),
        Binding("f", "filter", "Filter", id="review.filter"),
        Binding("left,k", "step(True)", "Prev", key_display="←", id="review.previous"),
        Binding("right,j", "step(False)", "Next", key_display="→", id="review.next"),
        Binding("h", "recent", "Recent", id="review.recent"),
        Binding("s", "sort", "Risk sort", id="review.sort"),
        Binding("X", "bulk", "Bulk reject", id="review.bulk"),
        Binding("R", "reject", "Reject why", id="review.reason"),
        Binding("n", "note", "Note", id="review.note"),
        Binding("o", "open_seed", "Seed ex.", id="review.seed"),
        Binding("p", "promote", "Promote", id="review.promote"),
        Binding("slash", "filter('search')", "Find", key_display="/", show=False, id="review.search"),
        Binding("r", "reload", "Reload", show=False, id="review.reload"),
    ]
    DEFAULT_CSS = """
    #review-head { height: 4; padding: 0 1; background: $boost; text-wrap: nowrap; text-overflow: ellipsis; }
    #review-body { height: 1fr; padding: 0 1; }
    #review-body:focus { background-tint: $foreground 3%; }
    .review-label { color: $text-muted; text-style: bold; margin-top: 1; }
    .review-label.review-edited { color: $warning; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.pair: Pair | None = None
        self.position = 0
        self.filter = ReviewFilter()
        self.session = Session(login_name())
        self.seen_version: int | None = None
        """The database's data_version when last read: it moves when another reviewer commits."""
        self.seen_decided: tuple | None = None
        """`review.decided_so_far` when last read: it moves with verdicts and new pairs, not with claims."""
        self.look_again_at: float | None = None
        """With the queue empty: when another session's claim lapses unless renewed (nothing commits then)."""
        self.held_elsewhere = 0
        """With the queue empty: the filter's pending pairs other live sessions hold."""
        self.following = False
        """A look at what other sessions committed is going (`follow_others`)."""
        self.settling: dict[str, Timer] = {}
        """The header's counts waiting for the reviewer to be still (`later`)."""
        self.lost_claim: str | None = None
        """The pair whose claim another session took while this one was not heard from (said once)."""
        self.undo_stack: list[Undoable] = []
        self.counts: dict[str, int] = {}
        self.place: tuple[int, int] | None = None
        """The shown pair's (n, N) in the filter's order."""
        self.agreements: list = []
        """How the shown run's judges (and its on-task score) line up with reviewers' verdicts so far
        (`pipeline.evidence.judge_agreements`); empty until verdicts exist."""
        self.changing_filter = asyncio.Lock()
        """Held while the queue moves to a new filter, so following others never shows a pair of the old one."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-db")
        self._counter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-count")
        """A second connection for counts a key never waits for ("pair n of N": 0.1 s over 100,000 pairs)."""
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
        if self.pair is not None and self.pair.status == "pending":
            self._executor.submit(self._call, review.release, self.pair.id, self.session)
        self._executor.shutdown(wait=True)
        self._counter.shutdown(wait=True)

    def _call(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        if getattr(self._local, "db", None) is None:
            self._local.db = open_db(self.app.db_path)
        return function(self._local.db, *args, **kwargs)

    async def db(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run `function(db, ...)` on the pane's database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(self._call, function, *args, **kwargs))

    def later(self, name: str, then: Callable[[], Any]) -> None:
        """Call `then` once the reviewer has been still for `SETTLE_S` (each call starts the wait again)."""
        timer = self.settling.get(name)
        if timer is not None:
            timer.stop()
        self.settling[name] = self.set_timer(SETTLE_S, then)

    async def count(self, function: Callable, *args: Any) -> Any:
        """Run `function(db, ...)` on the pane's counting thread (reads only, beside the database thread)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._counter, partial(self._call, function, *args))

    async def fetch(self, function: Callable, *args: Any, **kwargs: Any) -> Pair | None:
        """A pair read by `function` (a `store.review` read), typed."""
        row = await self.db(function, *args, **kwargs)
        return None if row is None else Pair.from_row(row)

    def not_saved(self, what: str, error: Exception, then: str) -> None:
        """Say that the database refused a write (a full disk, an I/O error) and what the reviewer can do."""
        self.notify(f"{what}: the database cannot be written ({error}). Nothing is lost: {then}.",
                    title="Not saved", severity="error", timeout=15)

    async def release_shown(self, keep: str | None = None) -> None:
        """Give back the claim on the shown pair (moving away from it undecided), unless it is `keep`."""
        if self.pair is not None and self.pair.status == "pending" and self.pair.id != keep:
            await self.db(review.release, self.pair.id, self.session)

    async def advance(self, after: int, recount: bool = True, backwards: bool = False) -> None:
        """Show the next pair of the queue after the pair at `after` (claiming it), the one before it when
        `backwards`, and count again unless the caller keeps the counters right itself."""
        pair = await self.fetch(review.next_pair, self.session, self.filter, after, backwards=backwards)
        if pair is None:
            self.look_again_at = await self.db(review.next_release, self.session, self.filter)
            self.held_elsewhere = await self.db(review.claimed_elsewhere, self.session, self.filter)
        else:
            self.look_again_at = None
        self.show(pair)
        if recount:
            self.refresh_counts()

    @work(group="review-follow", exit_on_error=False)
    async def follow_others(self) -> None:
        """Each second: if another session committed, pick up work if the queue was empty, and show the pair
        and count again if verdicts or pairs were added (a claim taken, renewed or released adds neither);
        an empty queue also looks again when another session's claim has lapsed.

        A look still going when the next second comes is left to finish, not cancelled: cancelled after
        noting the new data_version but before showing it, the change was never shown."""
        if self.changing_filter.locked() or self.following:
            return  # the new filter's first pair is on its way, or a look is going; the next second looks again
        self.following = True
        try:
            await self.look_for_others()
        finally:
            self.following = False

    async def look_for_others(self) -> None:
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
        if pair is None or pair.status != "pending":
            return
        if not await self.db(review.renew, pair.id, self.session) and self.lost_claim != pair.id:
            self.lost_claim = pair.id
            self.notify("Another reviewer has this pair now (this session was not heard from for a while): "
                        "a verdict here is refused if they decide first.", severity="warning")

    async def reload_pair(self) -> None:
        """Show the pair as the database has it now, and fresh counters."""
        if self.pair is not None:
            fresh = await self.fetch(review.get_pair, self.pair.id)
            if fresh != self.pair:
                self.show(fresh)
        self.counts = await self.db(review.counts, self.filter)
        self.update_status()
        self.refresh_agreement()

    def review(self, pairs: ReviewFilter) -> None:
        """Walk these pairs: the app's answer to `ReviewPairs` (the Run pane's ctrl+r, ...)."""
        self.run_worker(self.change_filter(pairs), group="review-filter", exclusive=True, exit_on_error=False)

    async def change_filter(self, pairs: ReviewFilter) -> None:
        async with self.changing_filter:
            await self.release_shown()
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
        self.refresh_agreement()

    @work(exclusive=True, group="review-agreement", exit_on_error=False)
    async def refresh_agreement(self) -> None:
        """The judges against reviewers for the filter's run (or the shown pair's), from the verdicts so far."""
        run_id = self.filter.run_id or (self.pair.run_id if self.pair else None)
        self.agreements = [] if run_id is None else await self.count(_agreements, run_id)
        self.show_head()

    @work(exclusive=True, group="review-place", exit_on_error=False)
    async def refresh_place(self) -> None:
        """The shown pair's "n of N" (a count over the filter: off the key's path)."""
        pair = self.pair
        place = None if pair is None else await self.count(review.place, self.filter, pair.position)
        if pair is self.pair:
            self.place = place
            self.show_head()

    def update_status(self) -> None:
        self.query_one(StatusBar).status = Text.assemble(
            (" Review ", "bold"), (one_line(self.session.name, 24), "dim"))
        self.show_head()

    def counters(self) -> Text:
        """A bar of how many pairs of the filter are decided (first, so a narrow terminal keeps it), then
        the pairs per status."""
        counters = Text()
        total = sum(self.counts.values())
        if total:
            decided = total - self.counts.get("pending", 0)
            filled = round(BAR_WIDTH * decided / total)
            counters.append("█" * filled, style="bold")
            counters.append("░" * (BAR_WIDTH - filled), style="dim")
            counters.append(f" {100 * decided // total}%  ", style="dim")
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
            held = f": others hold {self.held_elsewhere} pair(s) of this filter" if self.held_elsewhere else ""
            lines = [self.counters(), self.filter_line(), Text(f"No pair to review{held}."),
                     Text("f changes the filter; u undoes the last verdict.", style="dim")]
        else:
            seed = "–" if pair.seed_index is None else str(pair.seed_index + 1)
            place = f"pair {self.place[0]} of {self.place[1]}  " if self.place else ""
            line1 = Text.assemble(
                (place, "bold"), ("run ", "dim"), one_line(pair.run_id, 20), ("  seed ", "dim"), seed, ("  ", ""),
                (clean(pair.status).upper(), "bold"),
                (" " + one_line(pair.reason, 12) if pair.reason else "", "bold"),
                ("  by " + one_line(pair.reviewer, 16) if pair.reviewer else "", "dim"))
            scores = [part for judge in pair.judges
                      for part in ((f"{one_line(judge.title, 20)} ", "dim"), _score(judge.score) + "  ")]
            line2 = Text.assemble(*scores, ("on-task ", "dim"), _score(pair.ontask, ".2f") + "  ",
                                  (clean(pair.outcome), "italic"),
                                  ("  note: " + one_line(pair.note, 40) if pair.note else "", "dim"))
            lines = [self.counters(), self.filter_line(), line1, line2]
        if self.agreements:
            lines.append(self.agreement_line())
        head.styles.height = len(lines)
        head.update(Text("\n").join(lines))

    def agreement_line(self) -> Text:
        """Each judge against reviewers in a few characters: its AUC once it rests on enough verdicts
        (marked when it does not tell accepted from rejected), else how many verdicts it has so far."""
        from lab_tui.pipeline.agreement import MIN_VERDICTS

        line = Text("judges vs reviewers ", style="dim")
        for agreement in self.agreements:
            line.append(one_line(agreement.label or agreement.judge, 20) + " ", style="dim")
            if not agreement.enough:
                line.append(f"{agreement.verdicts}/{MIN_VERDICTS} verdicts  ")
            elif agreement.auc is not None:
                line.append(f"AUC {agreement.auc:.2f}", style="bold")
                line.append(" ✗  " if agreement.discriminates is False else "  ",
                            style="bold red" if agreement.discriminates is False else "")
            else:
                table = agreement.current.table if agreement.current else None
                line.append(f"kept {table.kept}, {table.kept_rejected} rejected  " if table else "–  ")
        return line

    def show(self, pair: Pair | None) -> None:
        """Put the pair on screen by updating a fixed set of widgets (mounting new ones per pair is slow)."""
        if pair != self.pair:  # another pair, or this one decided: its place is counted again
            self.place = None
        self.pair = pair
        self.show_head()
        body = self.query_one(PairView)
        body.display = pair is not None
        if pair is None:
            return
        self.position = pair.position
        self.later("place", self.refresh_place)
        for name, edited, original in (("question", pair.edited_question, pair.original_question),
                                       ("response", pair.edited_response, pair.original_response)):
            label = self.query_one(f"#label-{name}", Static)
            label.update(f"{name.title()} (edited; original below)" if edited is not None else name.title())
            label.set_class(edited is not None, "review-edited")
            self.query_one(f"#edited-{name}", Static).update(literal(edited or ""))
            self.query_one(f"#edited-{name}", Static).display = edited is not None
            self.query_one(f"#original-label-{name}", Static).display = edited is not None
            self.query_one(f"#text-{name}", Static).update(literal(original or ""))
        self.query_one("#text-context", Static).update(literal(pair.context or ""))
        for name in ("#label-context", "#text-context"):
            self.query_one(name, Static).display = pair.context is not None
        verdicts = Text()
        for judge in pair.judges:
            label = judge.title or "judge"
            verdicts.append_text(literal(f"\n{label[:1].upper()}{label[1:]}: {_score(judge.score)}\n", style="bold"))
            verdicts.append_text(literal(judge.explanation or ""))
            verdicts.append("\n")
        if pair.ontask_scores:
            verdicts.append_text(literal("\nOn-task: " + "  ".join(
                f"{field} {_score(score, '.2f')}" for field, score in pair.ontask_scores.items()) + "\n", style="bold"))
        self.query_one("#text-judges", Static).update(verdicts)
        body.scroll_home(animate=False)

    async def action_verdict(self, status: str, **edits: str | None) -> bool:
        """Commit the verdict and show the next pair; False when it was not saved (the pair is then shown
        as the database has it, so the key can be pressed again)."""
        pair = self.pair
        if pair is None:
            return False
        try:
            version = await self.db(review.record_verdict, pair.id, self.session, status, pair.version, **edits)
        except VerdictConflict as error:
            self.notify(f"{error}. It is shown as it is now: decide again, or space moves on (r reloads).",
                        title="Not saved", severity="error")
            await self.reload_pair()
            return False
        except sqlite3.Error as error:
            self.not_saved("The verdict was not saved", error,
                           f"the pair stays {pair.status}; press the key again once the disk has room")
            return False
        self.undo_stack.append(Undoable([(pair.id, version)]))
        self.count_change(pair.status, status)
        self.later("agreement", self.refresh_agreement)
        try:
            await self.advance(pair.position, recount=False)
        except sqlite3.Error as error:
            self.show(None)
            self.not_saved("The verdict is saved, but the next pair could not be claimed", error, "r tries again")
        return True

    def action_reject(self) -> None:
        if self.pair is not None:
            self.reject(self.pair.id, self.pair.note or "")

    def reject(self, pair_id: str, note: str) -> None:
        """The reason dialog; a rejection that is not saved comes back in it with its note."""
        async def done(result: tuple[str | None, str] | None) -> None:
            pair = self.pair
            if result is None or pair is None or pair.id != pair_id:
                return
            reason, note = result
            if not await self.action_verdict("rejected", reason=reason, note=note if note != (pair.note or "") else None):
                self.reject(pair_id, note)

        self.app.push_screen(RejectDialog(note), done)

    async def action_undo(self) -> None:
        if not self.undo_stack:
            self.notify("Nothing to undo in this session.")
            return
        last = self.undo_stack[-1]
        pair_id, version = last.decided[0]
        try:
            if last.bulk:
                await self.release_shown()
                restored, kept = await self.db(review.undo_bulk, self.session, last.decided)
            else:
                await self.release_shown(keep=pair_id)
                await self.db(review.undo, pair_id, self.session, version)
        except VerdictConflict as error:
            self.notify(str(error), title="Not undone", severity="error")
        except sqlite3.Error as error:
            self.not_saved("The verdict was not undone", error, "u tries again")
            return
        self.undo_stack.pop()
        if last.bulk:
            self.notify(f"Bulk action undone: {restored} pair(s) pending again"
                        + (f"; {kept} left as another reviewer decided them since." if kept else "."))
            await self.advance(0)
            return
        self.show(await self.fetch(review.get_pair, pair_id))
        self.refresh_counts()

    async def action_step(self, backwards: bool) -> None:
        """The previous or next pair of the filter, leaving the shown one undecided."""
        try:
            await self.release_shown()
            await self.advance(self.position, recount=False, backwards=backwards)
        except sqlite3.Error as error:
            self.not_saved("No other pair could be claimed", error, "r tries again")

    async def action_recent(self) -> None:
        """This reviewer's recent decisions: the one chosen is shown again, to decide anew."""
        decisions = await self.db(review.recent_decisions, self.session.name)
        if not decisions:
            self.notify("No decisions yet in this database under this reviewer's name.")
            return

        async def done(pair_id: str | None) -> None:
            if pair_id is not None:
                await self.release_shown(keep=pair_id)
                self.show(await self.fetch(review.get_pair, pair_id))

        self.app.push_screen(RecentDialog(decisions), done)

    def action_sort(self) -> None:
        """Toggle between the queue's order and riskiest first."""
        order = "queue" if self.filter.order == "risk" else "risk"
        self.review(dataclasses.replace(self.filter, order=order))

    async def action_bulk(self) -> None:
        """Reject every pending pair of the current filter, or of the shown pair's seed example within it
        (a score below: narrow the filter first), after confirming the count; one `u` takes it all back."""
        scopes = {"bulk-filter": self.filter}
        pair = self.pair
        if pair is not None and pair.seed_index is not None and self.filter.seed_index is None:
            scopes["bulk-seed"] = dataclasses.replace(self.filter, seed_index=pair.seed_index)
        counts = {scope: await self.db(review.bulk_count, self.session, pairs) for scope, pairs in scopes.items()}
        if not counts["bulk-filter"]:
            self.notify("No pending pair of this filter is free to decide.", severity="warning")
            return

        async def done(choice: str) -> None:
            if choice not in scopes:
                return
            try:
                await self.release_shown()
                decided = await self.db(review.bulk_verdict, self.session, scopes[choice], "rejected")
            except (VerdictConflict, sqlite3.Error) as error:
                self.notify(f"Nothing rejected: {error}.", title="Not saved", severity="error")
                return
            if decided:
                self.undo_stack.append(Undoable(decided, bulk=True))
            self.notify(f"{len(decided)} pair(s) rejected; u takes them all back.", title="Bulk reject")
            await self.advance(0)

        choices = [("bulk-filter", f"Reject {counts['bulk-filter']}")]
        question = f"Reject the {counts['bulk-filter']} pending pair(s) of this filter?\n{self.filter.describe()}"
        if counts.get("bulk-seed"):
            seed = scopes["bulk-seed"].seed_index + 1
            choices.append(("bulk-seed", f"{counts['bulk-seed']} of seed {seed}"))
            question += f"\nOr only the {counts['bulk-seed']} of seed example {seed} (this pair's)?"
        self.app.push_screen(ChoiceDialog(
            question + "\nPairs other reviewers hold are left to them; u undoes the whole action.",
            [*choices, ("bulk-cancel", "Cancel")], focus="bulk-cancel"), done)

    def action_edit(self) -> None:
        pair = self.pair
        if pair is not None:
            self.edit(pair.id, pair.question, pair.response)

    def edit(self, pair_id: str, question: str, response: str) -> None:
        """The edit dialog on this text; an edit that is not saved comes back in it, never lost."""
        async def done(result: tuple[str, str] | None) -> None:
            pair = self.pair
            if result is None or pair is None or pair.id != pair_id:
                return
            question, response = result
            if not await self.action_verdict(
                    "accepted",
                    edited_question=question if question != pair.original_question else None,
                    edited_response=response if response != pair.original_response else None):
                self.edit(pair_id, question, response)

        self.app.push_screen(EditDialog(question, response), done)

    def action_note(self) -> None:
        if self.pair is not None:
            self.write_note(self.pair.id, self.pair.note or "")

    def write_note(self, pair_id: str, note: str) -> None:
        """The note dialog on this text; a note that is not saved comes back in it, never lost."""
        async def done(note: str | None) -> None:
            pair = self.pair
            if note is None or pair is None or pair.id != pair_id:
                return
            try:
                await self.db(review.record_verdict, pair_id, self.session, pair.status, pair.version, note=note)
            except VerdictConflict as error:
                self.notify(str(error), title="Not saved", severity="error")
            except sqlite3.Error as error:
                self.not_saved("The note was not saved", error, "it is back in its dialog")
                self.write_note(pair_id, note)
                return
            self.show(await self.fetch(review.get_pair, pair_id))

        self.app.push_screen(NoteDialog(note), done)

    async def action_filter(self, focus: str = "run_id") -> None:
        async def done(new: ReviewFilter | None) -> None:
            if new is not None:
                try:
                    await self.change_filter(new)
                except sqlite3.Error as error:
                    self.not_saved("The filter is set, but no pair could be claimed", error, "r tries again")

        self.app.push_screen(FilterDialog(self.filter, await self.db(list_runs), focus), done)

    async def action_open_seed(self) -> None:
        """Show the seed example the pair came from in the Seeds pane (the app routes `OpenSkill`)."""
        pair = self.pair
        if pair is None or pair.seed_index is None:
            self.notify("This pair has no seed example.", severity="warning")
            return
        run = await self.db(get_run, pair.run_id)
        if not run.get("skill_path"):
            self.notify("This pair's run was not made from a skill file.", severity="warning")
            return
        self.post_message(OpenSkill(Path(run["skill_path"]), pair.seed_index))

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

    def action_export(self) -> None:
        """Ask where and what to export (as `lab-tui export` does), for the filter's run or the shown pair's."""
        run_id = self.filter.run_id or (self.pair.run_id if self.pair else None)
        if run_id is None:
            self.notify("Choose a run first (f).", severity="warning")
            return
        self.export([run_id], ExportDialog([run_id], exports_dir() / f"{run_id}-accepted.jsonl"))

    def export(self, runs: list[str], dialog: ExportDialog) -> None:
        """Export as the dialog says; when it cannot be done the dialog comes back with the reason."""
        async def done(asked: ExportRequest | None) -> None:
            if asked is None:
                return
            try:
                if asked.path.parent == exports_dir():  # lab-tui's own folder; any other must exist, as for the CLI
                    asked.path.parent.mkdir(parents=True, exist_ok=True)
                export, written = await self.db(export_to_file, runs, asked.path, format=asked.format,
                                                status=asked.status, prompt=asked.prompt)
            except (UserError, OSError, sqlite3.Error) as error:
                reason = getattr(error, "strerror", None) or str(error)
                self.export(runs, ExportDialog(runs, asked.path, asked.status, asked.format, asked.prompt_choice,
                                               error=f"Nothing exported: {reason}"))
                return
            self.notify(f"{len(export.records)} pair(s) written to {asked.path}; system prompt: "
                        f"{asked.prompt.choice}; beside it: {', '.join(path.name for path in written[1:])}",
                        title="Exported")

        self.app.push_screen(dialog, done)


def _agreements(db, run_id: str) -> list:
    """The run's agreement figures, or none while no verdict exists (nothing to say yet)."""
    from lab_tui.pipeline.evidence import judge_agreements

    try:
        figures = judge_agreements(db, run_id=run_id)
    except UserError:  # the run is gone (another process cleaned up): nothing to show
        return []
    return figures if any(figure.verdicts for figure in figures) else []


def exports_dir() -> Path:
    """Where the export dialog suggests writing."""
    return data_dir() / "exports"


def _promote(pair: Pair, path: Path) -> tuple[str, bool, tuple | None]:
    """Append the pair to the skill file if it is still as read; the message, whether it went well,
    and (the file's stamp before, after, the examples added) when something was written."""
    from lab_tui.seeds import SeedExample, lint_skill, load_skill, save_skill
    from lab_tui.seeds.io import FileChanged

    loaded = load_skill(path)
    if loaded.skill is None:
        return f"{path.name} does not parse; fix it in the Seeds pane first.", False, None
    skill = loaded.skill
    # Model text never carries a control character (an escape sequence) into a seed file.
    example = SeedExample(question=clean(pair.question), answer=clean(pair.response),
                          context=None if pair.context is None else clean(pair.context))
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


def _score(value: float | None, form: str = "g") -> str:
    return "–" if value is None else format(value, form)
