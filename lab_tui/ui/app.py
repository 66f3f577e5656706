"""The lab-tui Textual app: panes as screens, themes from data files, keys users can remap.

A pane is added by one entry in `PANES` (key, title, factory); the app gives each pane a
function-key binding and a command-palette entry.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from lab_tui.config import load_settings
from lab_tui.ui.themes import DEFAULT_THEME, load_theme, theme_files


class LabApp(App):
    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "lab-tui"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
        Binding("f1", "toggle_help", "Keys", id="app.help"),
    ]

    def __init__(self, skill_path: Path | None, db_path: Path, start_pane: str = "seeds") -> None:
        super().__init__()
        self.skill_path = skill_path
        self.db_path = db_path
        self.start_pane = start_pane
        self.panes: dict[str, tuple[str, str, Callable[[], Screen]]] = {
            "seeds": ("f2", "Seeds", self.make_seeds_pane),
        }

    def make_seeds_pane(self) -> Screen:
        from lab_tui.ui.seeds_pane import SeedsScreen

        return SeedsScreen(self.skill_path)

    def on_mount(self) -> None:
        settings = load_settings()
        for path in theme_files():
            try:
                self.register_theme(load_theme(path))
            except (ValueError, TypeError, OSError) as error:
                self.notify(f"Theme {path.name} was skipped: {error}", severity="warning", markup=False)
        self.theme = settings.get("theme") if settings.get("theme") in self.available_themes else DEFAULT_THEME
        self.theme_changed_signal.subscribe(self, lambda theme: load_settings().set("theme", theme.name))
        keymap = settings.get("keymap")
        if isinstance(keymap, dict):
            self.set_keymap(keymap)
        for name, (key, title, factory) in self.panes.items():
            self.install_screen(factory(), name=name)
            self.bind(key, f"show_pane('{name}')", description=title, show=len(self.panes) > 1)
        self.push_screen(self.start_pane)

    def action_show_pane(self, name: str) -> None:
        if self.screen.id != name and name in self.panes:
            self.switch_screen(name)

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def action_quit(self) -> None:
        """Ask before losing unsaved edits in any pane."""
        for name in self.panes:
            screen = self.get_screen(name)
            if getattr(screen, "dirty", False):
                if self.screen is not screen:
                    self.switch_screen(name)
                screen.confirm_leave(self.exit)
                return
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key of the current pane is also a command in the palette (ctrl+p)."""
        yield from super().get_system_commands(screen)
        for name, (key, title, _) in self.panes.items():
            yield SystemCommand(f"Go to {title}", f"Switch to the {title} pane ({key})",
                                partial(self.action_show_pane, name))
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                yield SystemCommand(binding.description, f"{binding.description} ({binding.key})",
                                    partial(screen.run_action, binding.action))
