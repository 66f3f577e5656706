from __future__ import annotations

from lab_tui.config import load_settings
from lab_tui.resources import example_skill_path
from lab_tui.ui.app import LabApp
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
    load_settings().set("keymap", {"seeds.save": "f9"})
    path = tmp_path / "qna.yaml"
    path.write_text(example_skill_path().read_text())
    app = LabApp(path, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.skill.task_description = "Remapped save works."
        app.screen.dirty = True
        await pilot.press("f9")
        await pilot.pause()
    assert "Remapped save works." in path.read_text()


def test_default_skill_is_a_private_copy_of_the_bundled_example(lab_home):
    path = default_skill_path()
    assert path.is_relative_to(lab_home) and path.read_text() == example_skill_path().read_text()
