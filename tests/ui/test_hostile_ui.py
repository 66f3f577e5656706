"""The app against hostile files and settings: nothing lost, nothing run on the terminal, no crash."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from textual.widgets import Input, TextArea
from waiting import until

from lab_tui.cli import main
from lab_tui.config import config_dir, settings_path
from lab_tui.resources import example_skill_path
from lab_tui.ui.app import LabApp
from lab_tui.ui.dialogs import ChoiceDialog, SaveAsDialog

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
TITLE = "\x1b]0;pwned\x1b\\"


@pytest.fixture
def skill_file(tmp_path) -> Path:
    path = tmp_path / "qna.yaml"
    shutil.copy(example_skill_path(), path)
    return path


async def edit_and_save_after_someone_else(pilot, app, skill_file) -> None:
    screen = app.screen
    skill_file.write_text(skill_file.read_text().replace("  Write internal", "  Theirs. Write internal", 1))
    question = screen.query_one("#question", TextArea)
    question.focus()
    question.select_all()
    await pilot.press(*"Mine?")
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
    assert "changed on disk" in app.screen.question


@pytest.mark.parametrize("choice", ["overwrite", "reload", "elsewhere", "cancel"])
async def test_a_file_changed_on_disk_is_never_overwritten_without_asking(skill_file, tmp_path, choice):
    app = LabApp(skill_file, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await edit_and_save_after_someone_else(pilot, app, skill_file)
        await pilot.click(f"#{choice}")
        await pilot.pause()
        if choice == "elsewhere":
            await until(pilot, lambda: isinstance(app.screen, SaveAsDialog))
            field = app.screen.query_one(Input)
            field.value = str(tmp_path / "mine.yaml")
            await pilot.press("enter")
            await pilot.pause()
        screen = app.screen
        text = skill_file.read_text()
        if choice == "overwrite":
            assert "Mine?" in text and "Theirs." in (tmp_path / "qna.yaml.bak").read_text()
            assert not screen.unsaved
        elif choice == "reload":
            assert "Theirs." in text and screen.skill.task_description.startswith("Theirs.") and not screen.unsaved
        elif choice == "elsewhere":
            assert "Theirs." in text and "Mine?" not in text
            assert "Mine?" in (tmp_path / "mine.yaml").read_text() and screen.path == tmp_path / "mine.yaml"
        else:
            assert "Theirs." in text and "Mine?" not in text and screen.unsaved


QUESTION = ("question: >-\n      Draft an all-hands email from the CEO, Maria Chen, announcing our Q2 results to\n"
            "      every employee.")


@pytest.mark.parametrize("written", ['question: "\\e]52;c;cm0gLXJmIH4=\\a\\e]0;pwned\\e\\\\ Draft the Q2 email."',
                                     QUESTION.replace("Draft", OSC52 + TITLE + "Draft")],
                         ids=["yaml-escapes", "raw-controls"])
async def test_escape_sequences_in_a_seed_file_never_reach_the_terminal(skill_file, tmp_path, written):
    """YAML's own escapes open as a skill; raw control characters do not parse and open as raw text."""
    assert QUESTION in skill_file.read_text()
    text = skill_file.read_text().replace(QUESTION, written, 1)
    skill_file.write_text(text)
    app = LabApp(skill_file, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        area = app.screen.query_one("#raw" if app.screen.raw_mode else "#question", TextArea)
        area.focus()
        if app.screen.raw_mode:
            area.move_cursor((text[:text.index("52;c;")].count("\n"), 0), center=True)
            await pilot.pause()
        assert OSC52 in area.text
        shown = "".join(segment.text for y in range(area.size.height) for segment in area.render_line(y))
        assert "52;c;cm0gLXJmIH4=" in shown and not any(ch in shown for ch in "\x1b\x07")
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert skill_file.read_text() == text


async def test_a_settings_file_with_an_error_is_shown_and_left_alone(skill_file, tmp_path, messages):
    broken = '{"teachers": {"big": {"model": "openai/x"}}, "keymap": {"seeds.save": "f9"},}'
    settings_path().write_text(broken)
    app = LabApp(skill_file, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        await pilot.pause()
        assert messages.notified("settings.json is not valid JSON at line 1")
        app.theme = "lab-light"
        await pilot.pause()
    assert settings_path().read_text() == broken


async def test_bad_themes_are_skipped_with_a_message_and_names_are_never_markup(skill_file, tmp_path, messages):
    themes = config_dir() / "themes"
    themes.mkdir()
    (themes / "broken.yaml").write_text("name: broken\nprimary: [unclosed\n")
    (themes / "colour.yaml").write_text("name: colour\nprimary: '#12345'\n")
    (themes / "click.yaml").write_text("name: \"[@click=app.quit]x[/]\"\nprimary: '#ff0000'\n")
    (themes / "fine.yaml").write_text("name: fine\nprimary: '#ff0000'\n")
    app = LabApp(skill_file, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        await pilot.pause()
        shown = messages.said()
        assert "broken.yaml is not valid YAML (line 3)" in shown
        assert "colour.yaml: primary is not a colour" in shown
        assert "click.yaml: the name must be" in shown
        assert "fine" in app.available_themes and not any("click" in name for name in app.available_themes)


async def test_a_keymap_with_an_unknown_id_or_a_clash_is_reported(skill_file, tmp_path, messages):
    settings_path().write_text(json.dumps({"keymap": {"seeds.sav": "f9", "seeds.save": "ctrl+o", "nope.x": "f10"}}))
    app = LabApp(skill_file, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        await pilot.pause()
        shown = messages.said()
        assert "no binding has the id nope.x" in shown
        assert "no binding has the id seeds.sav" in shown
        assert "ctrl+o is bound to both seeds.open and seeds.save" in shown


def test_the_app_refuses_a_corrupt_database_before_taking_the_terminal(tmp_path, capsys):
    db = tmp_path / "lab.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    assert main([str(example_skill_path()), "--db", str(db)]) == 1
    assert "not a readable SQLite database" in capsys.readouterr().err


async def test_a_foreign_database_is_reported_in_the_app_without_a_crash(skill_file, tmp_path, messages):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "other.db")
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    app = LabApp(skill_file, tmp_path / "other.db")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        await pilot.pause()
        assert messages.notified("another program")


async def test_live_lint_pauses_on_a_huge_skill_and_says_so(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_huge_skill import huge_skill

    path = tmp_path / "qna.yaml"
    huge_skill(path, 0.5)
    app = LabApp(path, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.screen.workers.wait_for_complete()
        assert [f.rule for f in app.screen.findings] == ["lint/paused"]
        assert "Live lint is paused" in app.screen.findings[0].message


async def test_file_names_in_the_open_dialog_are_shown_without_escapes(skill_file, tmp_path, monkeypatch):
    from lab_tui.ui.dialogs import OpenDialog, SeedFileTree

    (tmp_path / "\x1b]0;pwned\x07[b]x[i].yaml").write_text("version: 3\n")
    monkeypatch.chdir(tmp_path)
    app = LabApp(skill_file, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, OpenDialog))
        tree = app.screen.query_one(SeedFileTree)
        await until(pilot, lambda: len(tree.root.children) >= 2)
        labels = [child.label.plain for child in tree.root.children]
        assert "[b]x[i].yaml" in labels, labels  # the OSC title sequence is gone, the markup shown as text
