"""The app shell: themes, the command palette, remappable keys, panes, and a lean start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.screen import Screen
from textual.widgets import Footer, Label

from lab_tui.config import load_settings
from lab_tui.resources import example_skill_path
from lab_tui.ui.app import LabApp, Pane
from lab_tui.ui.help import HelpScreen
from lab_tui.ui.widgets.status_bar import StatusBar
from lab_tui.ui.launch import default_skill_path


async def test_bundled_themes_are_registered_and_the_choice_is_remembered(tmp_path):
    app = LabApp(example_skill_path(), tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        assert {"lab-dark", "lab-light", "lab-high-contrast"} <= set(app.available_themes)
        assert app.theme == "lab-dark"
        app.theme = "lab-light"
        await pilot.pause()
    assert load_settings().get("theme") == "lab-light"
    app = LabApp(example_skill_path(), tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)):
        assert app.theme == "lab-light"


async def test_every_pane_key_is_in_the_command_palette(tmp_path):
    app = LabApp(example_skill_path(), tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for binding in app.screen.BINDINGS:
            assert binding.description in titles


async def test_user_keymap_from_settings_remaps_a_key(tmp_path):
    load_settings().set("keymap", {"seeds.save": "f10"})
    path = tmp_path / "qna.yaml"
    path.write_text(example_skill_path().read_text())
    app = LabApp(path, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.skill.task_description = "Remapped save works."
        app.screen.unsaved = True
        await pilot.press("f10")
        await pilot.pause()
    assert "Remapped save works." in path.read_text()


async def test_help_and_the_palette_show_the_users_remapped_keys(tmp_path):
    """Both showed the default keys after the user remapped them."""
    from textual.widgets import Markdown

    load_settings().set("keymap", {"seeds.save": "f10", "app.pane.review": "f12", "review.undo": "z,backspace"})
    app = LabApp(example_skill_path(), tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        helps = {command.title: command.help for command in app.get_system_commands(app.screen)}
        assert helps["Save"] == "Save (f10)" and helps["Go to Review"].endswith("(f12)")
        assert " f12 Review" in str(app.screen.query_one(StatusBar).render())
        await pilot.press("f1")
        await pilot.pause()
        shown = app.screen.query_one(Markdown).source
    assert "| `f10` | Save" in shown and "`ctrl+s` | Save" not in shown
    assert "`f12` | Seeds / Run / Review" in shown and "| `z or backspace` | Undo" in shown
    assert "| `/` |" not in shown and "`f` or `/` | Filters" in shown and "{" not in shown.split("## Everywhere")[1]


async def test_themes_are_found_by_name_in_the_palette(tmp_path):
    """Typing "light" in the palette found nothing: themes were only inside the Theme picker."""
    from textual.command import CommandPalette

    app = LabApp(example_skill_path(), tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"light")
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "lab-light"


def test_default_skill_is_a_private_copy_of_the_bundled_example(lab_home):
    path = default_skill_path()
    assert path.is_relative_to(lab_home) and path.read_text() == example_skill_path().read_text()


class NotesScreen(Screen):
    """A stand-in second pane, registered exactly as the Run and Review panes will be."""

    unsaved = True

    def compose(self):
        yield StatusBar()
        yield Label(str(self.app.options.get("reviewer")))
        yield Footer()

    def confirm_leave(self, then):
        self.unsaved = False
        self.app.notes_asked = True
        then()


class TwoPaneApp(LabApp):
    PANES = {**LabApp.PANES, "notes": Pane("f11", "Notes", f"{__name__}:NotesScreen")}


async def test_a_pane_registered_in_panes_gets_a_key_a_command_and_is_asked_before_quitting(tmp_path):
    app = TwoPaneApp(example_skill_path(), tmp_path / "lab.db", start_mode="notes", reviewer="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.current_mode == "notes" and str(app.screen.query_one(Label).render()) == "ana"
        assert "f2 Seeds" in str(app.screen.query_one(StatusBar).render())
        await pilot.press("f2")
        assert app.current_mode == "seeds"
        assert " Seeds " in str(app.screen.query_one(StatusBar).render())
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Go to Seeds", "Go to Notes"} <= titles
        await pilot.press("f11")
        assert app.current_mode == "notes"
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.notes_asked
    assert app.return_code == 0


async def test_f1_shows_the_help_file_and_escape_closes_it(tmp_path):
    app = LabApp(example_skill_path(), tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def test_the_app_reaches_its_first_frame_without_importing_litellm(tmp_path):
    code = (
        "import sys\n"
        "from lab_tui.ui.app import LabApp\n"
        "from lab_tui.ui.launch import default_skill_path\n"
        "class FirstFrame(LabApp):\n"
        "    def on_ready(self):\n"
        "        self.exit(type(self.screen).__name__)\n"
        f"app = FirstFrame(default_skill_path(), {str(tmp_path / 'lab.db')!r})\n"
        "app.run(headless=True, size=(80, 24))\n"
        "print(app.return_value, 'litellm' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["SeedsScreen", "False"]


@pytest.mark.parametrize("again", [False, True], ids=["waits-for-answers-in-flight", "second-ctrl-q-quits-now"])
async def test_quitting_during_a_live_run_asks_to_cancel_it_and_never_crashes(tmp_path, again):
    """ctrl+q used to ask the Run pane for `confirm_leave` whenever it needed a redraw, and crash."""
    from teacher_server import TeacherConfig, TeacherServer
    from textual.widgets import Input
    from waiting import until

    from lab_tui.store.db import open_db
    from lab_tui.ui.dialogs import ChoiceDialog

    with TeacherServer(TeacherConfig(latency=0.2)) as server:
        app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.pane_screens["run"]
            screen.query_one("#run-api-base", Input).value = server.api_base
            screen.query_one("#run-concurrency", Input).value = "2"
            await pilot.press("f5")
            await until(pilot, lambda: screen.progress is not None and screen.progress.requests_done > 0)
            run_id = screen.live_run_id()
            await pilot.press("ctrl+q")
            await until(pilot, lambda: isinstance(app.screen, ChoiceDialog) and app.screen.focused is not None)
            assert app.screen.focused.id == "stay" and run_id in app.screen.question
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ChoiceDialog))
            assert screen.live_run_id() == run_id
            await pilot.press("ctrl+q")
            await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
            if again:
                server.config.latency = 30.0  # answers in flight now take long: a second ctrl+q quits at once
            await pilot.click("#cancel-run")
            if again:
                await pilot.press("ctrl+q")
            await until(pilot, lambda: not app.is_running, timeout=10.0)
    assert open_db(tmp_path / "lab.db").execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] \
        == "cancelled"


@pytest.mark.parametrize("document", ["README.md", "lab_tui/ui/help.md"])
async def test_the_documented_keymap_example_clashes_with_nothing(tmp_path, document, messages):
    """The README's and help's example remapped Save to f9, the Skills pane's key: following the
    documentation gave a keymap warning and a key that did two things."""
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / document).read_text()
    example = json.loads(re.search(r'`(\{"seeds\.save": "[^"]+"\})`', text).group(1))
    load_settings().set("keymap", example)
    app = LabApp(example_skill_path(), tmp_path / "lab.db")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        for pane in app.PANES:
            await app.switch_mode(pane)
            await pilot.pause()
    assert not messages.notified("Keymap"), messages.said()
