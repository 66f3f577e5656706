"""The Seeds pane driven as a user would: keys in, screen and files out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from textual.widgets import OptionList, TextArea
from waiting import until

from lab_tui.config import load_settings
from lab_tui.resources import example_skill_path
from lab_tui.seeds.recovery import read_recovery
from lab_tui.ui.app import LabApp
from lab_tui.ui.dialogs import ChoiceDialog
from lab_tui.ui.seeds_pane import LintDone

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"


@pytest.fixture
def skill_file(tmp_path) -> Path:
    path = tmp_path / "qna.yaml"
    shutil.copy(example_skill_path(), path)
    return path


def app_for(path: Path, tmp_path: Path) -> LabApp:
    return LabApp(path, tmp_path / "lab.db")


@pytest.fixture(autouse=True)
def no_lint_delay(monkeypatch):
    """Lint at once after a change: tests wait for the findings, not for the debounce."""
    from lab_tui.ui import seeds_pane

    monkeypatch.setattr(seeds_pane, "LINT_DELAY_S", 0.001)  # a zero timer divides by zero


async def settle(pilot, screen, messages, timeout: float = 10.0) -> None:
    """Wait until the findings on screen are those of the latest change: every change starts a new
    lint generation, so a `LintDone` of the pane's current generation means nothing is pending."""
    await until(pilot, lambda: any(done.generation == screen.generation for done in messages.of(LintDone)), timeout)
    await pilot.pause()


def finding_rules(screen) -> set[str]:
    return {f.rule for f in screen.findings}


async def test_edit_shows_a_finding_then_fixing_it_clears_it_and_save_writes_the_file(skill_file, tmp_path, messages):
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        await settle(pilot, screen, messages)
        assert finding_rules(screen) == set()
        question = screen.query_one("#question", TextArea)
        question.focus()
        question.select_all()
        await pilot.press("T", "O", "D", "O")
        await settle(pilot, screen, messages)
        assert "input/placeholder" in finding_rules(screen)
        assert screen.unsaved
        assert "+qna.yaml modified" in str(screen.query_one("#seeds-status").render())
        await pilot.press("backspace", "backspace", "backspace", "backspace")
        await pilot.press(*"Write the Q2 all-hands email from our CEO to every employee.")
        await settle(pilot, screen, messages)
        assert "input/placeholder" not in finding_rules(screen)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not screen.unsaved
    saved = yaml.safe_load(skill_file.read_text())
    assert saved["seed_examples"][0]["question"] == "Write the Q2 all-hands email from our CEO to every employee."
    assert (tmp_path / "qna.yaml.bak").read_text() == example_skill_path().read_text()


async def test_selecting_a_finding_jumps_to_its_example_and_field(skill_file, tmp_path, messages):
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        screen.skill.examples[3].answer = "It depends on what you mean."
        screen.lint_now()
        await settle(pilot, screen, messages)
        await pilot.press("f6")
        findings = screen.query_one("#findings", OptionList)
        assert findings.has_focus
        target = next(i for i in range(findings.option_count)
                      if findings.get_option_at_index(i).id and "hedges" in str(findings.get_option_at_index(i).prompt))
        findings.highlighted = target
        await pilot.press("enter")
        await pilot.pause()
        assert screen.current == 3
        assert app.focused is screen.query_one("#answer", TextArea)
        await pilot.press("f6")
        assert findings.has_focus, "f6 must reach the findings from inside an editor (TextArea binds f6 too)"


async def test_add_duplicate_move_and_delete_examples(skill_file, tmp_path, messages):
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        await pilot.press("ctrl+n")
        assert len(screen.skill.examples) == 6 and screen.current == 5
        await pilot.press(*"New context")
        assert screen.skill.examples[5].context == "New context"
        await pilot.press("ctrl+t")
        assert len(screen.skill.examples) == 7 and screen.skill.examples[6].context == "New context"
        await pilot.press("alt+up")
        assert screen.current == 5
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.click("#delete")
        await pilot.pause()
        assert len(screen.skill.examples) == 6
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert len(yaml.safe_load(skill_file.read_text())["seed_examples"]) == 6


async def test_quit_with_unsaved_changes_asks_and_cancel_keeps_the_edits(skill_file, tmp_path, messages):
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        screen.query_one("#task", TextArea).focus()
        await pilot.press("X")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen.unsaved and screen.skill.task_description.startswith("X")
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.click("#save")
        await pilot.pause()
    assert app.return_code == 0
    assert yaml.safe_load(skill_file.read_text())["task_description"].startswith("X")


async def test_autosave_keeps_a_recovery_copy_that_is_offered_on_next_open(skill_file, tmp_path, messages):
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        screen.query_one("#task", TextArea).focus()
        await pilot.press("Z")
        screen.autosave()
        await screen.workers.wait_for_complete()  # the copy is made off the UI thread, then written
        await pilot.pause()
    assert skill_file.read_text() == example_skill_path().read_text()
    assert read_recovery(skill_file).text.count("ZWrite internal") == 1

    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.click("#restore")
        await pilot.pause()
        screen = app.pane_screens["seeds"]
        assert screen.unsaved and screen.skill.task_description.startswith("ZWrite")


async def test_a_file_that_does_not_parse_is_reported_and_left_untouched(tmp_path, messages):
    bad = tmp_path / "qna.yaml"
    shutil.copy(FIXTURES / "hist_bad__writing__freeform__poetry__limerick.yaml", bad)
    before = bad.read_bytes()
    app = app_for(bad, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        await pilot.pause()
        assert screen.skill is None
        assert [f.rule for f in screen.findings] == ["yaml/syntax"]
        assert screen.query_one("#question", TextArea).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert bad.read_bytes() == before


async def test_fix_key_removes_trailing_spaces(tmp_path, messages):
    path = tmp_path / "qna.yaml"
    shutil.copy(FIXTURES / "hist_v3ctx__grounded__linguistics__inclusion__superlatives.yaml", path)
    app = app_for(path, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        await settle(pilot, screen, messages)
        assert "yaml/trailing-spaces" in finding_rules(screen)
        await pilot.press("ctrl+f")
        await settle(pilot, screen, messages)
        assert "yaml/trailing-spaces" not in finding_rules(screen)
        assert screen.unsaved


async def test_file_text_is_shown_literally_without_escape_sequences(skill_file, tmp_path, messages):
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        screen.skill.examples[0].question = "[b]Hi[/] \x1b[31mok\x07"
        screen.show_examples()
        await pilot.pause()
        prompt = screen.query_one("#examples", OptionList).get_option_at_index(0).prompt
        assert "[b]Hi[/] ok" in prompt.plain and "\x1b" not in prompt.plain and "\x07" not in prompt.plain


async def test_a_broken_file_opens_as_raw_text_and_can_be_fixed_and_saved(skill_file, tmp_path, messages):
    broken = "oops: [unclosed\n" + skill_file.read_text()
    skill_file.write_text(broken)
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        await pilot.pause()
        raw = screen.query_one("#raw", TextArea)
        assert screen.raw_mode and app.focused is raw and raw.text == broken
        assert [f.rule for f in screen.findings] == ["yaml/syntax"]
        raw.move_cursor((0, 0))
        await pilot.press("ctrl+k", "delete")
        await settle(pilot, screen, messages)
        assert screen.unsaved and "yaml/syntax" not in finding_rules(screen)
        await pilot.press("ctrl+s")
        await settle(pilot, screen, messages)
        assert screen.skill is not None and not screen.raw_mode and not screen.unsaved
        assert len(screen.skill.examples) == 5
    assert skill_file.read_text() == example_skill_path().read_text()
    assert (tmp_path / "qna.yaml.bak").read_text() == broken


async def test_an_older_version_is_offered_an_upgrade_to_version_3(tmp_path, messages):
    path = tmp_path / "qna.yaml"
    shutil.copy(FIXTURES / "hist_v2__writing__grounded__objection_handling.yaml", path)
    app = app_for(path, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog) and "version 2" in app.screen.question
        await pilot.click("#upgrade")
        await pilot.pause()
        screen = app.pane_screens["seeds"]
        assert screen.unsaved and screen.skill.version == 3
        await settle(pilot, screen, messages)
        assert "schema/old-version" not in finding_rules(screen)
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert yaml.safe_load(path.read_text())["version"] == 3
    before = (FIXTURES / "hist_v2__writing__grounded__objection_handling.yaml").read_text()
    assert path.read_text() == before.replace("version: 2\n", "version: 3\n", 1)  # as the dialog says


async def test_opening_another_file_with_unsaved_changes_asks_first(skill_file, tmp_path, messages):
    other = tmp_path / "other.yaml"
    shutil.copy(FIXTURES / "compositional_skills__grounded__linguistics__inclusion.yaml", other)
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        screen.query_one("#task", TextArea).focus()
        await pilot.press("Q")
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press(*str(other), "enter")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.click("#discard")
        await pilot.pause()
        assert screen.path == other and not screen.unsaved
        assert str(other.resolve()) in load_settings().get("recent")
    assert skill_file.read_text() == example_skill_path().read_text()


async def test_a_path_that_does_not_exist_yet_is_created_on_save(tmp_path, messages):
    path = tmp_path / "new" / "qna.yaml"
    path.parent.mkdir()
    app = app_for(path, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        screen.query_one("#task", TextArea).focus()
        await pilot.press(*"Write haiku.")
        await pilot.press("ctrl+n", *"What is spring?", "ctrl+s")
        await pilot.pause()
    saved = yaml.safe_load(path.read_text())
    assert saved["version"] == 3 and saved["task_description"] == "Write haiku."
    assert saved["seed_examples"] == [{"question": "What is spring?", "answer": ""}]


async def test_editing_a_folded_scalar_never_saves_a_file_that_does_not_parse(tmp_path, messages):
    path = tmp_path / "qna.yaml"
    shutil.copy(FIXTURES / "compositional_skills__grounded__linguistics__inclusion.yaml", path)
    app = app_for(path, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        screen.select_example(2)
        context = screen.query_one("#context", TextArea)
        context.focus()
        context.move_cursor((0, 0))
        await pilot.press(*"Note: ")
        await settle(pilot, screen, messages)
        assert "yaml/syntax" not in finding_rules(screen)
        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = yaml.safe_load(path.read_text())
    assert saved["seed_examples"][2]["context"].startswith("Note: In database replication")


OLD_FORMATS = sorted(p for p in FIXTURES.glob("hist_v[12]*.yaml"))


@pytest.mark.parametrize("path", OLD_FORMATS, ids=lambda p: p.name)
async def test_the_app_and_the_cli_give_the_same_findings_and_lines(path, tmp_path, messages):
    """On old-format files the app linted a re-dumped copy: 3 errors where `lab-tui lint` found 1."""
    from lab_tui.seeds import lint_path

    copy = tmp_path / "qna.yaml"
    shutil.copy(path, copy)
    app = app_for(copy, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["seeds"]
        await settle(pilot, screen, messages)
        shown = [(f.rule, f.line, f.example) for f in screen.findings]
    assert shown == [(f.rule, f.line, f.example) for f in lint_path(path)]


async def test_raw_view_finding_lines_are_the_files_lines(tmp_path, messages):
    """A file opened raw and fixed there is linted as the CLI lints it: lines match the raw view's numbers."""
    from lab_tui.seeds import lint_text

    path = tmp_path / "qna.yaml"
    broken = (FIXTURES / "hist_v2__writing__grounded__objection_handling.yaml").read_text()
    path.write_text(broken.replace("created_by: JanaGK2", "created_by: JanaGK2: x"))
    app = app_for(path, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["seeds"]
        await settle(pilot, screen, messages)
        assert screen.raw_mode and [f.rule for f in screen.findings] == ["yaml/syntax"]
        raw = screen.query_one("#raw", TextArea)
        raw.load_text(broken)
        await settle(pilot, screen, messages)
        shown = [(f.rule, f.line) for f in screen.findings]
    expected = [(f.rule, f.line) for f in lint_text(broken, path)]
    assert shown == expected and any(line and line > 4 for _, line in shown)


async def test_a_crashed_lint_is_shown_once_and_findings_do_not_silently_stop(skill_file, tmp_path, monkeypatch, messages):
    from lab_tui.ui import seeds_pane

    def broken(skill):
        raise RuntimeError("rule blew up")

    monkeypatch.setattr(seeds_pane, "lint_skill", broken)
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["seeds"]
        await settle(pilot, screen, messages)
        assert [f.rule for f in screen.findings] == ["lint/crashed"]
        screen.query_one("#task", TextArea).insert("Z")  # the same crash again is not shown twice
        await settle(pilot, screen, messages)
        await screen.workers.wait_for_complete()
        await pilot.pause()
        errors = messages.notices("error")
        assert len(errors) == 1 and "rule blew up" in errors[0].message


async def test_at_80_columns_the_header_shows_the_lint_counts_and_the_unsaved_mark(tmp_path, messages):
    """The counts and the modified mark were cut off behind the global keys."""
    from lab_tui.ui.widgets.status_bar import StatusBar

    path = tmp_path / "compositional_skills__grounded__linguistics__writing__rewriting_qna.yaml"
    shutil.copy(example_skill_path(), path)
    app = app_for(path, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["seeds"]
        await settle(pilot, screen, messages)
        screen.query_one("#task", TextArea).insert("Z")
        await settle(pilot, screen, messages)
        shown = str(screen.query_one(StatusBar).render())
    counts = {s: sum(f.severity == s for f in screen.findings) for s in ("error", "warning", "info")}
    assert len(shown) <= 80 and f"✖{counts['error']} ▲{counts['warning']} ●{counts['info']}" in shown
    assert "+compositional" in shown and "f1 Help" in shown and "f3 Run" in shown


async def test_the_delete_dialog_focuses_cancel(skill_file, tmp_path, messages):
    """enter on the delete dialog deleted the example: "Delete" had the focus."""
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["seeds"]
        await settle(pilot, screen, messages)
        count = len(screen.skill.examples)
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog) and app.screen.focused.id == "cancel"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and len(screen.skill.examples) == count and not screen.unsaved


async def test_at_200x60_the_examples_column_uses_the_room(skill_file, tmp_path):
    app = app_for(skill_file, tmp_path)
    async with app.run_test(size=(200, 60)) as pilot:
        seeds = app.pane_screens["seeds"]
        await until(pilot, lambda: seeds.skill is not None)
        await pilot.pause()
        assert seeds.query_one("#seeds-side").outer_size.width == 50
        question = seeds.skill.examples[0].question
        prompt = str(seeds.query_one("#examples", OptionList).get_option_at_index(0).prompt)
        assert len(prompt) > 30 and question.startswith(prompt[3:].rstrip("…")[:35])
    async with app_for(skill_file, tmp_path).run_test(size=(80, 24)) as pilot:
        seeds = pilot.app.pane_screens["seeds"]
        await until(pilot, lambda: seeds.skill is not None)
        assert seeds.query_one("#seeds-side").outer_size.width == 30
