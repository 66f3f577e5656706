"""The Run pane: start, watch, cancel and resume runs of the open skill.

The engine runs as an app-level async worker on the app's event loop, so a run keeps going when
the user switches pane. Its events are only recorded as they come (the latest `RunProgress`
replaces older ones, outputs go to a short ring); a 10 Hz timer redraws when something changed,
so hundreds of requests in flight never mean hundreds of redraws. The pane never polls the
database for its own run; a run from another process (the CLI) is read from the store once a
second in a thread worker. The runs list follows the database: once a second SQLite's change
counter (`ChangeWatch`) says whether anyone committed, and only then is the list read again, so CLI
runs appear and kept counts stay fresh without f8. Parameters are typed in Inputs, so the pane's
actions are on function keys. The teacher profile is chosen from the settings file's profiles and
remembered there (`run_profile`) for the next session.
"""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, get_current_worker

from lab_tui.errors import UserError
from lab_tui.pipeline.events import Event, RowDone, RowFailed, RunFinished, RunProgress, RunStarted
from lab_tui.pipeline.progress import stored_progress
from lab_tui.pipeline.render import progress_view
from lab_tui.store.db import open_db
from lab_tui.store.queries import ChangeWatch, list_runs
from lab_tui.store.review import ReviewFilter
from lab_tui.ui.messages import ReviewPairs
from lab_tui.ui.pane import PaneScreen
from lab_tui.ui.safe_text import clean, literal, one_line
from lab_tui.ui.skills_pane import fit_name
from lab_tui.ui.widgets.safe_text_area import SafeInput
from lab_tui.ui.widgets.status_bar import StatusBar

REDRAW_EVERY_S = 0.1
FOREIGN_POLL_S = 1.0
RECENT_LIMIT = 50
RUNS_HEIGHT = 5
NO_RUN_SHOWN = "No run shown: f5 starts one, enter on a past run shows it."
ROOMY_HEIGHT = 40
"""Rows from which the pane shows the estimate as a table and gives the runs list more lines."""
PROFILE_SETTING = "run_profile"
"""The settings key that remembers the teacher profile last chosen in the pane."""


class RunList(OptionList):
    """The runs list: Up on the first line and Down on the last stay put (a list of runs newest
    first has no "after the oldest")."""

    def action_cursor_up(self) -> None:
        if self.highlighted is None or self.highlighted > 0:
            super().action_cursor_up()

    def action_cursor_down(self) -> None:
        if self.highlighted is None or self.highlighted < self.option_count - 1:
            super().action_cursor_down()


class OutputDialog(ModalScreen[None]):
    """One recent output or failure in full: stage, status, reason and the raw answer, literally."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]
    DEFAULT_CSS = """
    OutputDialog { align: center middle; }
    OutputDialog > VerticalScroll { width: 90%; height: 90%; border: thick $primary; background: $surface;
                                    padding: 0 1; }
    """

    def __init__(self, event: RowDone | RowFailed) -> None:
        super().__init__()
        self.event = event

    def compose(self) -> ComposeResult:
        event = self.event
        with VerticalScroll():
            if isinstance(event, RowFailed):
                yield Label(literal(f"{event.stage} · failed: ", style="bold").append_text(literal(event.reason)))
                yield Static(literal(event.raw or "(no answer)"))
            else:
                yield Label(literal(f"{event.stage} · {event.status}", style="bold"))
                yield Static(literal(event.preview))

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()


class CompareDialog(ModalScreen[None]):
    """Two runs side by side (`pipeline.compare`), scrollable; escape closes."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    CompareDialog { align: center middle; }
    CompareDialog > VerticalScroll { width: 95%; height: 95%; border: thick $primary; background: $surface;
                                     padding: 0 1; }
    """

    def __init__(self, comparison) -> None:
        super().__init__()
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        from lab_tui.pipeline.compare_view import compare_view

        with VerticalScroll():
            yield Label(Text("Compare (A: the run before, B: this one) · escape closes", style="bold"))
            yield Static(compare_view(self.comparison))

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()


class RunScreen(PaneScreen):
    BINDINGS = [
        Binding("f5", "start", "Start run", id="run.start"),
        Binding("f6", "resume", "Resume", id="run.resume"),
        Binding("f7", "cancel", "Cancel run", id="run.cancel"),
        Binding("f8", "refresh_runs", "Reload runs", id="run.reload"),
        Binding("ctrl+r", "review_run", "Review run", id="run.review"),
        Binding("ctrl+g", "compare", "Compare with previous", id="run.compare", show=False),  # said in the list's label
    ]
    DEFAULT_CSS = """
    #run-target { height: 1; padding: 0 1; }
    #run-params, #run-counts { height: 1; }
    #run-params Label, #run-counts Label { padding: 0 1; color: $text-muted; }
    #run-params Input, #run-counts Input { height: 1; border: none; padding: 0; background: $boost; }
    #run-params Input:focus, #run-counts Input:focus { background: $primary 30%; }
    #run-profile { width: 16; height: 1; }
    #run-profile > SelectCurrent { border: none; height: 1; padding: 0 1; background: $boost; }
    #run-profile:focus > SelectCurrent { background: $primary 30%; }
    #run-profile > SelectOverlay { width: 30; }
    #run-api-base { width: 1fr; }
    #run-flow { width: 18; }
    #run-flow-counts { width: auto; height: 1; }
    #run-flow-counts Label { padding: 0 1; color: $text-muted; }
    .run-count { width: 7; }
    #run-runs { height: 5; border: none; border-left: outer $panel; }  /* RUNS_HEIGHT */
    #run-recent { height: 1fr; min-height: 3; border: none; border-left: outer $panel; }
    #run-runs:focus, #run-recent:focus { border-left: outer $primary; }
    #run-progress { height: auto; padding: 0 1; }
    .section { color: $text-muted; text-style: bold; padding: 0 1; }
    """

    class RunsLoaded(Message):
        def __init__(self, runs: list[dict]) -> None:
            super().__init__()
            self.runs = runs

    class StoredProgress(Message):
        def __init__(self, progress: RunProgress, status: str) -> None:
            super().__init__()
            self.progress, self.status = progress, status

    def __init__(self) -> None:
        super().__init__()
        self.shown_run: str | None = None
        self.own_run: str | None = None
        self.progress: RunProgress | None = None
        self.recent: deque[RowDone | RowFailed] = deque(maxlen=RECENT_LIMIT)
        self.cancel_event: asyncio.Event | None = None
        self.runs: list[dict] = []
        self.needs_redraw = False
        self.recent_added = 0
        """Outputs added since the last redraw: the highlight moves down by as many to stay on its row."""
        self.count_names: list[str] = []
        """The counts of the flow f5 will run, each with a field (`#run-count-NAME`)."""
        self.starting: Worker | None = None
        self.shown_batch: str | None = None
        """The batch whose line was chosen (its runs' totals shown, ctrl+r reviews them all)."""
        self.watch: ChangeWatch | None = None
        self.estimate = None
        self.flow_reason: str | None = None
        """Why f5's flow is the one chosen (`pipeline.flow.choose_flow`), when it is chosen from the skill."""
        self.agreements: list = []
        """How the shown run's judges line up with reviewers (`pipeline.evidence.judge_agreements`)."""
        """What f5 would send, cost and take (`pipeline.estimate.Estimate`), shown while no run is."""

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(id="run-target")
        with Horizontal(id="run-params"):
            yield Label("Teacher")
            yield Select(self.profile_options(), value=self.remembered_profile(), allow_blank=False,
                         id="run-profile")
            yield Label("api")
            yield SafeInput(placeholder="profile's", id="run-api-base")
            yield Label("flow")
            yield SafeInput(placeholder="auto", id="run-flow")
        with Horizontal(id="run-counts"):
            yield Horizontal(id="run-flow-counts")  # a field per count of the flow f5 will run: show_target
            yield Label("concurrency")
            yield Input(placeholder="auto", id="run-concurrency", classes="run-count", type="integer")
        yield Label("Runs (enter shows one, ctrl+g compares it with the one before)", classes="section")
        yield RunList(id="run-runs")
        yield Static(id="run-progress")
        yield Label("Recent outputs and failures (enter opens one)", classes="section")
        yield OptionList(id="run-recent")
        yield Footer()

    class TargetDescribed(Message):
        def __init__(self, fields: tuple, text: Text, counts: dict[str, int]) -> None:
            super().__init__()
            self.fields, self.text, self.counts = fields, text, counts

    class Estimated(Message):
        def __init__(self, fields: tuple, estimate, flow_reason: str | None) -> None:
            super().__init__()
            self.fields, self.estimate, self.flow_reason = fields, estimate, flow_reason

    class AgreementsRead(Message):
        def __init__(self, run_id: str, agreements: list) -> None:
            super().__init__()
            self.run_id, self.agreements = run_id, agreements

    class Compared(Message):
        def __init__(self, comparison) -> None:
            super().__init__()
            self.comparison = comparison

    class RunCreated(Message):
        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    @staticmethod
    def profile_options() -> list[tuple[Text, str]]:
        from lab_tui.pipeline.teacher import profile_names

        return [(literal(one_line(name, 40)), name) for name in sorted(profile_names())]

    @staticmethod
    def remembered_profile() -> str:
        """The profile chosen last time, while the settings file still has it; else "default"."""
        from lab_tui.config import load_settings
        from lab_tui.pipeline.teacher import profile_names

        name = load_settings().get(PROFILE_SETTING)
        return name if isinstance(name, str) and name in profile_names() else "default"

    def profile(self) -> str:
        value = self.query_one("#run-profile", Select).value
        return value if isinstance(value, str) else "default"

    @on(Select.Changed, "#run-profile")
    def remember_profile(self, event: Select.Changed) -> None:
        """Keep the choice for the next session (a settings file that could not be read is left
        alone: `Settings.set` writes nothing then), and describe the new target."""
        from lab_tui.config import load_settings

        settings = load_settings()
        if isinstance(event.value, str) and settings.get(PROFILE_SETTING) != event.value:
            settings.set(PROFILE_SETTING, event.value)
        self.describe_target()

    def skill_path(self) -> Path | None:
        """The open skill (app state: what the Seeds pane shows, else what lab-tui was started with)."""
        return self.app.skill_path

    def live_run_id(self) -> str | None:
        """The run this pane is running now, if any (quitting asks before cancelling it)."""
        return self.own_run

    def cancel_live_run(self) -> None:
        if self.own_run and self.cancel_event is not None:
            self.cancel_event.set()

    def on_screen_resume(self) -> None:
        self.describe_target()

    @on(Input.Changed, "#run-api-base, #run-flow, #run-concurrency, .run-count")
    def target_changed(self) -> None:
        self.describe_target()

    def describe_target(self) -> None:
        """Say what f5 will run (the skill, its flow and the teacher), which counts that flow has, and
        the estimate: the fields are read here, on the UI thread; the work goes on in a thread."""
        self.describe_in_thread(self.skill_path(), *self.target_fields())

    def target_fields(self) -> tuple:
        """What f5 reads: profile, api base, flow, counts typed, concurrency (an estimate is of these)."""
        return (self.profile(), self.query_one("#run-api-base", Input).value.strip(),
                self.query_one("#run-flow", Input).value.strip(),
                {name: value for name, value in self.count_values().items() if value},
                self.query_one("#run-concurrency", Input).value.strip())

    @work(thread=True, exclusive=True, group="run-target", exit_on_error=False)
    def describe_in_thread(self, path: Path | None, profile_name: str, api_base: str, flow: str,
                           typed: dict[str, str], concurrency: str) -> None:
        from lab_tui.pipeline.flow import choose_flow, load_flow
        from lab_tui.pipeline.teacher import load_profile
        from lab_tui.seeds import load_skill

        flow_typed = flow
        name = path.parent.name if path is not None and path.name == "qna.yaml" else (path.name if path else "no skill")
        name = one_line(name, 10_000)
        text = Text.assemble(("f5: ", "dim"), (name if len(name) <= 22 else "…" + name[-21:], "bold"))
        counts: dict[str, int] = {}
        asked = None
        reason = None
        try:
            if not flow and path is not None:
                loaded = load_skill(path)
                if loaded.skill is not None:
                    chosen, reason = choose_flow(loaded.skill.examples)
                flow = f"{chosen} (auto)" if loaded.skill else "(does not parse)"
            if flow and not flow.startswith("("):
                counts = load_flow(flow.removesuffix(" (auto)")).counts()
            profile = load_profile(profile_name, api_base=api_base or None)
            where = (profile.api_base or "").removeprefix("http://").removeprefix("https://").removesuffix("/v1")
            if profile.endpoints:
                where = f"{len(profile.endpoints)} endpoints"
            text.append_text(Text.assemble((" · ", "dim"), one_line(flow or "auto", 30), (" · ", "dim"),
                                           one_line(f"{profile.model.split('/')[-1]}@{where}", 30)))
            asked = (path, flow.removesuffix(" (auto)"), counts, profile, typed, concurrency) \
                if path is not None and counts else None
        except (UserError, OSError) as error:  # said on the target line while the user types
            text.append_text(Text.assemble(("  ", ""), (one_line(str(error), 80), "red")))
        fields = (profile_name, api_base, flow_typed, typed, concurrency)
        if get_current_worker().is_cancelled:
            return  # a newer description is on its way (a cancelled thread still runs to its end)
        self.post_message(self.TargetDescribed(fields, text, counts))
        estimate = None
        if asked is not None:  # after the target line: the first estimate waits for litellm's price table
            try:
                estimate = self.estimate_for(*asked)
            except (UserError, OSError):
                estimate = None  # the target line says what is wrong
        if not get_current_worker().is_cancelled:
            self.post_message(self.Estimated(fields, estimate, reason))

    def estimate_for(self, path: Path, flow: str, counts: dict[str, int], profile, typed: dict[str, str],
                     concurrency: str):
        """What f5 would send with the counts typed (those of this flow, whole numbers) and the concurrency;
        None when a field does not hold a number yet."""
        from lab_tui.pipeline.estimate import estimate_run
        from lab_tui.pipeline.params import RunParams
        from lab_tui.seeds import load_skill

        typed = {name: value for name, value in typed.items() if name in counts and value}
        try:
            numbers = {name: int(value) for name, value in typed.items()}
            limit = int(concurrency) if concurrency else None
        except ValueError:
            return None
        if min([*numbers.values(), limit or 1]) < 1:
            return None
        skill = load_skill(path).skill
        if skill is None or not skill.examples:
            return None
        return estimate_run(open_db(self.app.db_path), skill, profile,
                            RunParams(flow=flow, counts=numbers, concurrency=limit))

    @on(TargetDescribed)
    async def show_target(self, message: TargetDescribed) -> None:
        """The target line, and a field per count of the flow (placeholder: the flow's default). A
        field keeps what was typed in it while the flow keeps that count; a count the flow does not
        have has no field, so a value left from another flow never reaches f5. A description of fields
        changed since is dropped: a slower, older thread could otherwise answer after a newer one."""
        if message.fields[:3] != self.target_fields()[:3]:
            return
        self.query_one("#run-target", Static).update(message.text)
        if list(message.counts) == self.count_names:
            for name, default in message.counts.items():
                self.query_one(f"#run-count-{name}", Input).placeholder = str(default)
            return
        typed = self.count_values()
        fields = self.query_one("#run-flow-counts", Horizontal)
        await fields.remove_children()
        await fields.mount_all([widget for name, default in message.counts.items() for widget in (
            Label(name), Input(typed.get(name, ""), placeholder=str(default), id=f"run-count-{name}",
                               classes="run-count", type="integer"))])
        self.count_names = list(message.counts)

    @on(Estimated)
    def show_estimate(self, message: Estimated) -> None:
        if message.fields != self.target_fields():
            return  # of fields typed over since (a thread reading litellm's prices can answer late)
        self.estimate, self.flow_reason = message.estimate, message.flow_reason
        self.needs_redraw = True

    def count_values(self) -> dict[str, str]:
        """What is typed in each count field there is now, by count (fields change as the flow does)."""
        return {field.id.removeprefix("run-count-"): field.value.strip()
                for field in self.query("#run-flow-counts Input").results(Input)}

    def on_mount(self) -> None:
        self.query_one("#run-api-base", Input).focus()  # what a user types first; tab reaches the rest
        self.set_interval(REDRAW_EVERY_S, self.redraw)
        self.set_interval(FOREIGN_POLL_S, self.poll_foreign)
        self.watch = ChangeWatch(self.app.db_path)  # before the first read: no change is missed
        self.set_interval(FOREIGN_POLL_S, self.follow_store)
        self.redraw(force=True)
        self.action_refresh_runs()

    def follow_store(self) -> None:
        """Read the runs list again when the database changed since the last look (any process)."""
        if self.watch is not None and self.watch.changed():
            self.action_refresh_runs()
            if self.shown_run is not None:  # a verdict may have been given meanwhile
                self.read_agreements(self.shown_run)

    def update_status(self) -> None:
        run = self.shown_run or "no run"
        state = "running here" if self.own_run and self.own_run == self.shown_run else ""
        self.query_one(StatusBar).status = Text.assemble((" Run ", "bold"), one_line(run, 28), " ", (state, "dim"))

    def record_event(self, event: Event) -> None:
        """Called by the engine on the loop for every event: record it only; the timer redraws."""
        if isinstance(event, RunStarted):
            self.own_run = self.shown_run = event.run_id
            self.progress = None
            self.recent.clear()
            self.recent_added = 0
        elif isinstance(event, RunProgress):
            if event.run_id == self.shown_run:
                self.progress = event
        elif isinstance(event, (RowDone, RowFailed)):
            if event.run_id == self.shown_run:
                self.recent.appendleft(event)
                self.recent_added += 1
        elif isinstance(event, RunFinished):
            self.own_run = None
            severity = "information" if event.status == "completed" else "warning"
            self.notify(f"Run {event.run_id} {event.status}" + (f": {event.error}" if event.error else ""),
                        severity=severity)
            self.action_refresh_runs()
        self.needs_redraw = True

    def redraw(self, force: bool = False) -> None:
        if not (self.needs_redraw or force):
            return
        self.needs_redraw = False
        self.query_one("#run-progress", Static).update(self.progress_shown())
        shown = len(self.progress.endpoints) if self.progress and len(self.progress.endpoints) > 1 else 0
        runs = self.query_one("#run-runs", OptionList)
        rows = RUNS_HEIGHT if self.size.height < ROOMY_HEIGHT else self.size.height // 4  # the room there is
        if runs.styles.height.value != max(1, rows - shown):  # endpoint lines take the runs list's rows
            runs.styles.height = max(1, rows - shown)
        recent = self.query_one("#run-recent", OptionList)
        highlighted = recent.highlighted
        recent.clear_options()
        for event in self.recent:
            mark = "✖ " if isinstance(event, RowFailed) else "✔ "
            detail = event.reason if isinstance(event, RowFailed) else event.preview
            recent.add_option(Option(Text.assemble(mark, (clean(event.stage)[:22], "bold"), " ",
                                                   one_line(detail, max(10, self.size.width - 30)))))
        if highlighted is not None and self.recent:
            recent.highlighted = min(highlighted + self.recent_added, len(self.recent) - 1)
        self.recent_added = 0
        self.update_status()

    @work(thread=True, exclusive=True, group="run-list", exit_on_error=False)
    def action_refresh_runs(self) -> None:
        self.post_message(self.RunsLoaded(list_runs(open_db(self.app.db_path))))

    @on(RunsLoaded)
    def show_runs(self, message: RunsLoaded) -> None:
        """One line per run (its skill, status, pairs); a batch's runs together under a line with
        the batch's totals. Enter on a run shows its stage bars."""
        self.runs = message.runs
        runs = self.query_one("#run-runs", OptionList)
        previous = runs.get_option_at_index(runs.highlighted).id if runs.highlighted is not None else None
        runs.clear_options()
        batches: dict[str, list[dict]] = {}
        for run in self.runs:
            if run.get("batch_id"):
                batches.setdefault(run["batch_id"], []).append(run)
        for run in self.runs:
            batch = batches.pop(run.get("batch_id"), None) if run.get("batch_id") else None
            if batch:
                states = sorted({member["display_status"] for member in batch})
                runs.add_option(Option(Text.assemble(
                    ("batch ", "dim"), (one_line(run["batch_id"], 30), "bold"),
                    f"  {len(batch)} skills {'/'.join(states)} kept {sum(m['pairs_kept'] for m in batch)}"),
                    id=run["batch_id"]))
                for member in batch:
                    runs.add_option(self.run_line(member, indent="  "))
            elif not run.get("batch_id"):
                runs.add_option(self.run_line(run))
        ids = [run["id"] for run in self.runs] + list({run["batch_id"] for run in self.runs if run.get("batch_id")})
        wanted = self.own_run or self.shown_run or self.shown_batch or previous
        if ids:
            runs.highlighted = runs.get_option_index(wanted if wanted in ids else ids[0])

    @staticmethod
    def run_line(run: dict, indent: str = "") -> Option:
        skill = one_line(run["skill"], 10_000)  # already as much of its path as tells it from the others
        skill = fit_name(skill, skill, 16)
        return Option(Text.assemble(
            indent, (clean(run["id"]), "bold"), f" {clean(run['display_status']):<11}", (f"{skill:<16}", "italic"),
            f" kept {run['pairs_kept']} acc {run['accepted']} fail {run['failed_rows']}"), id=run["id"])

    def progress_shown(self):
        """The shown run's progress, a chosen batch's totals, or (no run shown) the estimate of f5."""
        from lab_tui.pipeline.estimate_view import estimate_compact, estimate_view

        if self.shown_batch is not None:
            return self.batch_summary(self.shown_batch)
        if self.progress is None and self.shown_run is None and self.estimate is not None:
            view = estimate_view if self.size.height >= ROOMY_HEIGHT else estimate_compact
            reason = [Text.assemble(("Flow ", "bold"), literal(f"{self.estimate.flow}: {self.flow_reason}"))] \
                if self.flow_reason else []
            return Group(*reason, view(self.estimate), Text(NO_RUN_SHOWN, style="dim"))
        progress = progress_view(self.progress, self.size.width or 80, bars=True, empty=NO_RUN_SHOWN)
        return Group(progress, *self.agreement_lines()) if self.agreements else progress

    def agreement_lines(self) -> list[Text]:
        """A line per judge (and the on-task score) once reviewers' verdicts exist: how it agrees with them."""
        lines = []
        for agreement in self.agreements:
            if not agreement.verdicts:
                continue
            line = Text.assemble(("Agreement ", "bold"), literal(agreement.label), f": {agreement.verdicts} verdicts")
            if not agreement.enough:
                line.append(" (too few for figures yet)", style="dim")
            else:
                if agreement.auc is not None:
                    line.append(f", AUC {agreement.auc:.2f}")
                if agreement.problems:
                    line.append_text(Text.assemble(" · ", literal(one_line(agreement.problems[0], 120))))
            lines.append(line)
        return lines

    @work(thread=True, exclusive=True, group="run-agreement", exit_on_error=False)
    def read_agreements(self, run_id: str) -> None:
        from lab_tui.pipeline.evidence import judge_agreements

        self.post_message(self.AgreementsRead(run_id, judge_agreements(open_db(self.app.db_path), run_id=run_id)))

    @on(AgreementsRead)
    def agreements_read(self, message: AgreementsRead) -> None:
        if message.run_id == self.shown_run:
            self.agreements = message.agreements
            self.needs_redraw = True

    def batch_summary(self, batch_id: str) -> Text:
        members = [run for run in self.runs if run.get("batch_id") == batch_id]
        states = "/".join(sorted({run["display_status"] for run in members}))
        return Text.assemble(("Batch ", "bold"), one_line(batch_id, 40), f": {len(members)} skills {states}, "
                             f"kept {sum(run['pairs_kept'] for run in members)}, "
                             f"accepted {sum(run['accepted'] for run in members)}, "
                             f"failed rows {sum(run['failed_rows'] for run in members)}.\n",
                             ("ctrl+r reviews all its pairs; enter on a run below shows its stages.", "dim"))

    @on(OptionList.OptionSelected, "#run-runs")
    def show_run(self, event: OptionList.OptionSelected) -> None:
        if any(run.get("batch_id") == event.option.id for run in self.runs):
            self.shown_batch, self.shown_run = event.option.id, None
            self.progress = None
            self.recent.clear()
            self.needs_redraw = True
            return
        self.shown_batch = None
        self.shown_run = event.option.id
        self.agreements = []
        self.read_agreements(self.shown_run)
        if self.shown_run != self.own_run:
            self.progress = None
            self.recent.clear()
            self.poll_foreign(force=True)
        self.needs_redraw = True

    @on(OptionList.OptionSelected, "#run-recent")
    def open_output(self, event: OptionList.OptionSelected) -> None:
        self.app.push_screen(OutputDialog(list(self.recent)[event.option_index]))

    def poll_foreign(self, force: bool = False) -> None:
        """Read a run that is not ours from the store: once when shown, then each second while it runs."""
        run_id = self.shown_run
        if run_id is None or run_id == self.own_run:
            return
        status = next((run["display_status"] for run in self.runs if run["id"] == run_id), None)
        if force or status == "running":
            self.read_stored(run_id)

    @work(thread=True, exclusive=True, group="run-stored", exit_on_error=False)
    def read_stored(self, run_id: str) -> None:
        self.post_message(self.StoredProgress(*stored_progress(open_db(self.app.db_path), run_id)))

    @on(StoredProgress)
    def show_stored(self, message: StoredProgress) -> None:
        if message.progress.run_id == self.shown_run and self.shown_run != self.own_run:
            self.progress = message.progress
            self.needs_redraw = True
            if message.status != "running":
                self.action_refresh_runs()

    async def action_start(self) -> None:
        if self.own_run or self.starting is not None and self.starting.is_running:
            self.notify("A run is already going here; cancel it first (f7).", severity="warning")
            return
        skill_path = self.skill_path()
        if skill_path is None:
            self.notify("No skill is open: pick one in the Skills pane (f9) or open one in Seeds (ctrl+o).",
                        title="Run not started", severity="warning")
            return
        typed = {name: value for name, value in self.count_values().items() if value}
        concurrency = self.query_one("#run-concurrency", Input).value.strip()
        try:
            counts = {name: int(value) for name, value in typed.items()}
            numbers = [*counts.values(), int(concurrency or 1)]
        except ValueError:
            numbers = [0]
        if min(numbers) < 1:
            self.notify("Counts and concurrency are whole numbers of at least 1.", title="Run not started",
                        severity="error")
            return
        if "seeds" in self.app.unsaved_panes():
            self.notify("The Seeds pane has unsaved edits: the run uses the file as last saved.", severity="warning")
        self.notify("Starting the run (the teacher client loads first, a few seconds the first time)…")
        from lab_tui.pipeline.params import RunParams

        params = RunParams(flow=self.query_one("#run-flow", Input).value.strip() or None, counts=counts,
                           concurrency=int(concurrency) if concurrency else None)
        self.starting = self.create_run(skill_path, self.profile(),
                                        self.query_one("#run-api-base", Input).value.strip() or None, params)

    @work(thread=True, group="run-create", exit_on_error=False, name="Starting the run")
    def create_run(self, skill_path: Path, profile: str, api_base: str | None, params) -> None:
        """Create the run off the UI thread; what stops it (a profile, a flow, a skill that does not
        parse) fails this worker into the app's one error handler, which shows its title and message."""
        from lab_tui.pipeline import launch
        from lab_tui.pipeline.teacher import load_profile

        run_id = launch.start(self.app.db_path, skill_path, load_profile(profile, api_base=api_base), params,
                              strict_counts=False)
        self.post_message(self.RunCreated(run_id))

    @on(RunCreated)
    def run_created(self, message: RunCreated) -> None:
        self.launch(message.run_id)

    def launch(self, run_id: str) -> None:
        """Run (or resume) on the app's loop as an app worker, so it outlives a pane switch. What
        stops it fails the worker into the app's one error handler ("Run failed", or the problem's
        own title, e.g. a run another process runs)."""
        from lab_tui.pipeline.engine import run_flow

        self.cancel_event = asyncio.Event()
        self.own_run = self.shown_run = run_id
        self.shown_batch = None
        self.agreements = []
        self.needs_redraw = True
        self.action_refresh_runs()

        async def go() -> None:
            try:
                await run_flow(self.app.db_path, run_id, on_event=self.record_event, cancel=self.cancel_event)
            finally:
                if self.own_run == run_id:  # it never started, so no RunFinished came: the pane is free again
                    self.own_run = None
                    self.needs_redraw = True

        self.app.run_worker(go(), name="Run", group="run-engine", exit_on_error=False)

    def action_resume(self) -> None:
        runs = self.query_one("#run-runs", OptionList)
        if self.own_run:
            self.notify("A run is already going here.", severity="warning")
        elif runs.highlighted is None:
            self.notify("Highlight a run in the list first.", severity="warning")
        elif any(run.get("batch_id") == runs.get_option_at_index(runs.highlighted).id for run in self.runs):
            self.notify(f"Resume a whole batch with: lab-tui run --resume {runs.get_option_at_index(runs.highlighted).id}")
        else:
            run_id = runs.get_option_at_index(runs.highlighted).id
            status = next((run["display_status"] for run in self.runs if run["id"] == run_id), None)
            if status == "completed":
                self.notify(f"Run {run_id} is completed: there is nothing to resume.")
                return
            self.notify(f"Resuming {run_id}…")
            self.launch(run_id)

    def action_review_run(self) -> None:
        """Review the shown run's pairs now, also while it is still making them (the app routes the ask)."""
        runs = self.query_one("#run-runs", OptionList)
        if self.shown_batch is not None:
            self.post_message(ReviewPairs(ReviewFilter(batch_id=self.shown_batch)))
            return
        run_id = self.shown_run or (runs.get_option_at_index(runs.highlighted).id
                                    if runs.highlighted is not None else None)
        if run_id is None:
            self.notify("No run to review yet: f5 starts one.", severity="warning")
            return
        if any(run.get("batch_id") == run_id for run in self.runs):
            self.post_message(ReviewPairs(ReviewFilter(batch_id=run_id)))
            return
        self.post_message(ReviewPairs(ReviewFilter(run_id=run_id)))

    def action_compare(self) -> None:
        """Compare the highlighted run (else the shown one) with the run of the same skill made before it."""
        runs = self.query_one("#run-runs", OptionList)
        highlighted = runs.get_option_at_index(runs.highlighted).id if runs.highlighted is not None else None
        run_id = highlighted if any(run["id"] == highlighted for run in self.runs) else self.shown_run
        if run_id is None:
            self.notify("Highlight a run to compare with the one before it.", severity="warning")
            return
        self.compare_in_thread(run_id)

    @work(thread=True, exclusive=True, group="run-compare", exit_on_error=False, name="Comparing runs")
    def compare_in_thread(self, run_id: str) -> None:
        from lab_tui.pipeline.compare import compare_runs
        from lab_tui.store.queries import previous_run_of_skill

        db = open_db(self.app.db_path)
        previous = previous_run_of_skill(db, run_id)
        if previous is None:
            self.post_message(self.Compared(None))
            return
        self.post_message(self.Compared(compare_runs(db, previous, run_id)))

    @on(Compared)
    def show_comparison(self, message: Compared) -> None:
        if message.comparison is None:
            self.notify("No earlier run of this skill to compare with.", severity="warning")
            return
        self.app.push_screen(CompareDialog(message.comparison))

    def action_cancel(self) -> None:
        if self.own_run and self.cancel_event is not None:
            self.cancel_event.set()
            self.notify(f"Cancelling {self.own_run}: requests already sent are stored first.")
        else:
            self.notify("No run of this pane is going.", severity="warning")
