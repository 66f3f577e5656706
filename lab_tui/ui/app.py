"""The lab-tui Textual app: one Textual *mode* per pane, themes from data files, remappable keys.

Adding a pane is one line in `PANES`: the mode name, its key, its title, and "module:ScreenClass".
The app then gives it a key binding (shown by `widgets.status_bar.StatusBar`, which every pane
puts at its top, with the global keys), a command-palette entry, and its own screen stack, so a pane's dialogs never cover another pane. The module is
imported the first time the pane is shown, which keeps start-up lean.

A pane screen is built with no arguments and reads what it needs from the app's state: `skill_path`
(the open skill), `review_filter` (the pairs last asked for), `db_path` and `options` (extra keyword
arguments given to `LabApp`, e.g. `reviewer`). Panes never call each other: they post the messages of
`lab_tui.ui.messages`, which the app's `@on` handlers below turn into state and route to the pane
concerned. A pane with unsaved work defines `unsaved` and `confirm_leave(then)`; a pane that drives a
run defines `live_run_id()` and `cancel_live_run()`. Quitting asks each such pane.

Outside text reaches the screen through one seam: widgets get `literal()` Text, editors are
`SafeTextArea`/`SafeInput`, and every notification passes `LabApp.notify`, which cleans it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterable

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from lab_tui.config import load_settings
from lab_tui.errors import UserError
from lab_tui.store.dbcheck import DatabaseProblem, check_db
from lab_tui.store.review import ReviewFilter
from lab_tui.ui import keymap as keymap_check
from lab_tui.ui.dialogs import ChoiceDialog
from lab_tui.ui.messages import OpenSkill, ReviewPairs, SeedFileChanged, SkillShown
from lab_tui.ui.safe_text import clean
from lab_tui.ui.themes import DEFAULT_THEME, ThemeError, load_theme, theme_files


@dataclass(frozen=True)
class Pane:
    key: str
    title: str
    screen: str
    """"package.module:ScreenClass", imported when the pane is first shown."""


class LabApp(App):
    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "lab-tui"
    PANES: dict[str, Pane] = {
        "seeds": Pane("f2", "Seeds", "lab_tui.ui.seeds_pane:SeedsScreen"),
        "run": Pane("f3", "Run", "lab_tui.ui.run_pane:RunScreen"),
        "review": Pane("f4", "Review", "lab_tui.ui.review_pane:ReviewScreen"),
        "skills": Pane("f9", "Skills", "lab_tui.ui.skills_pane:SkillsScreen"),
    }
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False, id="app.quit"),
        Binding("f1", "help", "Help", show=False, id="app.help"),
    ]

    def __init__(self, skill_path: Path | None, db_path: Path, start_mode: str = "seeds", **options: Any) -> None:
        super().__init__()
        self.skill_path = skill_path
        """The open skill: what the Seeds pane shows, the Run pane runs and Review promotes to."""
        self.review_filter = ReviewFilter(run_id=options.get("run_id"), batch_id=options.get("batch_id"))
        """The pairs last asked for (`lab-tui review --run`, a `ReviewPairs` message): where Review starts."""
        self.db_path = db_path
        self.start_mode = start_mode
        self.options = options
        self.pane_screens: dict[str, Screen] = {}
        self.user_keymap: dict[str, str] = {}
        """The settings file's keymap (binding id to keys), so help and the palette show the keys in effect."""
        self.file_themes: list[str] = []
        self.shown_errors: set[tuple[str, str]] = set()
        self.pane_bindings = [Binding(pane.key, f"show_pane('{name}')", pane.title, show=False, id=f"app.pane.{name}")
                              for name, pane in self.PANES.items()]
        for name, binding in zip(self.PANES, self.pane_bindings):
            self.add_mode(name, partial(self.make_pane, name))
            self._bindings.key_to_bindings.setdefault(binding.key, []).append(binding)

    def make_pane(self, name: str) -> Screen:
        if name == "run":  # a run is near: litellm's seconds-long import starts now, not at f5
            from lab_tui.pipeline.teacher import preload_litellm

            preload_litellm()
        module, _, cls = self.PANES[name].screen.partition(":")
        screen = getattr(importlib.import_module(module), cls)()
        self.pane_screens[name] = screen
        self.report_keymap(name, [*self.BINDINGS, *self.pane_bindings, *screen.BINDINGS])
        return screen

    def on_mount(self) -> None:
        settings = load_settings()
        if settings.problem:
            self.notify(settings.problem, title="Settings not used", severity="error", timeout=20)
        for path in theme_files():
            try:
                theme = load_theme(path)
                self.register_theme(theme)
                self.file_themes.append(theme.name)
            except ThemeError as error:
                self.notify(f"Theme skipped: {error}.", severity="warning", timeout=10)
        self.theme = settings.get("theme") if settings.get("theme") in self.available_themes else DEFAULT_THEME
        self.theme_changed_signal.subscribe(self, lambda theme: load_settings().set("theme", theme.name))
        self.user_keymap, refused = keymap_check.usable(settings.get("keymap", {}))
        if refused:
            self.notify(f"Keymap: {', '.join(refused)} not used: keys are names like ctrl+s, f9 or z,backspace.",
                        severity="warning", timeout=10)
        self.set_keymap(self.user_keymap)
        self.report_keymap("app", [*self.BINDINGS, *self.pane_bindings])
        unknown = sorted(i for i in self.user_keymap if i.split(".", 1)[0] not in ("app", *self.PANES))
        if unknown:
            self.notify(f"Keymap: no binding has the id {', '.join(unknown)}.", severity="warning", timeout=10)
        self.report_database()
        self.switch_mode(self.start_mode if self.start_mode in self.PANES else "seeds")

    def report_keymap(self, scope: str, bindings: list[Binding]) -> None:
        """Say which keymap ids of this scope bind nothing and which remapped keys clash."""
        found = keymap_check.problems(self.user_keymap, scope, bindings)
        if found:
            self.notify("Keymap: " + "; ".join(found) + ".", severity="warning", timeout=10)

    def report_database(self) -> None:
        """A read-only database can be browsed and exported; say so before a verdict or a run meets it."""
        try:
            state = check_db(Path(self.db_path))
        except DatabaseProblem as problem:
            self.notify(str(problem), title="Database not usable", severity="error", timeout=20)
            return
        if state == "read-only":
            self.notify(f"{self.db_path} is read-only: runs, reviews and exports can be read, but runs "
                        "cannot start and verdicts are not saved.", title="Read-only database",
                        severity="warning", timeout=20)

    @on(Worker.StateChanged)
    def show_worker_error(self, event: Worker.StateChanged) -> None:
        """The one place a crashed worker is shown (workers run with exit_on_error=False).

        A problem a person can fix (`UserError`) shows its own title and message; anything else is
        a crash, shown with the worker's name and the exception's type. A failure that repeats (a
        timer's worker failing each second) is shown once.
        """
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, UserError):
                title, said = error.title, str(error)
            else:
                title, said = f"{event.worker.name or 'A task'} failed", f"{type(error).__name__}: {error}"
            title, message = clean(title), clean(said)
            if (title, message) not in self.shown_errors:
                self.shown_errors.add((title, message))
                self.notify(message, title=title, severity="error", timeout=15, markup=False)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """The one way text becomes a notification (every pane's `self.notify` lands here): the message
        and title are cleaned and never read as markup, whatever the caller passed, because they are
        so often built from outside text (error bodies, file names, run ids)."""
        super().notify(clean(str(message)), title=clean(str(title)), severity=severity, timeout=timeout,
                       markup=False)

    # ----- panes talk through the app: these handlers turn their messages into state and route them ----------

    @on(OpenSkill)
    async def open_skill(self, message: OpenSkill) -> None:
        """Show the skill in the Seeds pane; a pane not built yet opens the open skill when first shown."""
        if "seeds" not in self.pane_screens:
            self.skill_path = message.path
        await self.switch_mode("seeds")
        self.pane_screens["seeds"].show_skill(message.path, message.example)

    @on(SkillShown)
    def skill_shown(self, message: SkillShown) -> None:
        self.skill_path = message.path

    @on(ReviewPairs)
    async def review_pairs(self, message: ReviewPairs) -> None:
        """Walk the pairs asked for in the Review pane; a pane not built yet starts on them."""
        self.review_filter = message.filter
        built = "review" in self.pane_screens
        await self.switch_mode("review")
        if built:
            self.pane_screens["review"].review(message.filter)

    @on(SeedFileChanged)
    def seed_file_changed(self, message: SeedFileChanged) -> None:
        """A seed file was written (Review's promote): the Seeds pane, if it shows that file, catches up."""
        seeds = self.pane_screens.get("seeds")
        if seeds is not None:
            seeds.seed_file_changed(message)

    def action_show_pane(self, name: str) -> None:
        if name in self.PANES and self.current_mode != name:
            self.switch_mode(name)

    def action_help(self) -> None:
        from lab_tui.ui.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_quit(self) -> None:
        """Ask before losing unsaved edits in any pane, then before stopping a live run."""
        if any(worker.group == "app-quit" for worker in self.workers):
            self.exit()  # a second ctrl+q while a cancelled run stores its last answers: quit now
            return
        for name in self.unsaved_panes():
            self.switch_mode(name)
            self.pane_screens[name].confirm_leave(lambda: self.call_next(self.action_quit))
            return
        for name, screen in self.pane_screens.items():
            run_id = screen.live_run_id() if hasattr(screen, "live_run_id") else None
            if run_id:
                self.switch_mode(name)
                self.push_screen(
                    ChoiceDialog(f"Run {run_id} is still going. Cancel it and quit? Answers already sent are "
                                 f"stored first, and it can be resumed later (f6, or lab-tui run --resume {run_id}).",
                                 [("cancel-run", "Cancel run and quit"), ("stay", "Keep running")], focus="stay"),
                    lambda choice, screen=screen: self.cancel_runs_and_exit(screen) if choice == "cancel-run" else None)
                return
        self.exit()

    def unsaved_panes(self) -> list[str]:
        """The panes holding unsaved work (quitting asks them; a run says it uses the file as saved)."""
        return [name for name, screen in self.pane_screens.items() if getattr(screen, "unsaved", False)]

    def cancel_runs_and_exit(self, screen: Screen) -> None:
        screen.cancel_live_run()
        self.notify("Cancelling the run: storing the answers already sent, then quitting… "
                    f"({self.keys_for('app.quit', 'ctrl+q')} again quits at once; the run can still be resumed)")

        async def exit_when_stopped() -> None:
            for worker in [w for w in self.workers if w.group == "run-engine"]:
                try:
                    await worker.wait()
                except (WorkerCancelled, WorkerFailed):
                    pass  # stopped either way; the pane said why
            self.exit()

        self.run_worker(exit_when_stopped(), group="app-quit", exit_on_error=False)

    def keys_for(self, binding_id: str | None, default: str) -> str:
        """The keys that trigger a binding now ("ctrl+s", "u or backspace"), the user's keymap applied."""
        keys = self.user_keymap.get(binding_id, default) if binding_id else default
        return " or ".join(key.strip() for key in keys.split(","))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every pane, theme and key of the current pane is also a command in the palette (ctrl+p)."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", f"lab-tui's keys and how the panes work ({self.keys_for('app.help', 'f1')})",
                            self.action_help)
        for name, pane in self.PANES.items():
            key = self.keys_for(f"app.pane.{name}", pane.key)
            yield SystemCommand(f"Go to {pane.title}", f"Switch to the {pane.title} pane ({key})",
                                partial(self.action_show_pane, name))
        for theme in self.file_themes:
            yield SystemCommand(f"Theme: {theme}", f"Use the {theme} theme (remembered)",
                                partial(setattr, self, "theme", theme))
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                key = self.keys_for(binding.id, binding.key)
                yield SystemCommand(binding.description, f"{binding.description} ({key})",
                                    partial(screen.run_action, binding.action))
