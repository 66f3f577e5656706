"""Panes talk through the app: they post messages (open skill, review these pairs, seed file changed)
that the app turns into its state and routes; no pane reaches into another."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from textual.widgets import TextArea
from waiting import until

from lab_tui.resources import example_skill_path
from lab_tui.store.review import ReviewFilter
from lab_tui.ui.app import LabApp
from lab_tui.ui.dialogs import ChoiceDialog, OpenDialog
from lab_tui.ui.messages import OpenSkill, ReviewPairs, SeedFileChanged, SkillShown
from builders import populate

UI = Path(__file__).resolve().parents[2] / "lab_tui" / "ui"


def examples(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text())["seed_examples"]


def skill_copy(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name / "qna.yaml"
    path.parent.mkdir()
    shutil.copy(example_skill_path(), path)
    return path


def test_no_pane_reaches_into_another():
    """Only the app knows the panes; a pane module naming `pane_screens` would be calling into one."""
    for module in UI.glob("*.py"):
        if module.name != "app.py":
            assert "pane_screens" not in module.read_text(), module.name


async def test_the_skill_opened_with_ctrl_o_is_the_one_run_and_promoted_to(tmp_path, messages):
    """Review's promote wrote to the skill lab-tui started with after ctrl+o had opened another."""
    first, second = skill_copy(tmp_path, "first"), skill_copy(tmp_path, "second")
    populate(tmp_path / "lab.db", count=2)
    app = LabApp(first, tmp_path / "lab.db", reviewer="ann")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, OpenDialog))
        await pilot.press(*str(second), "enter")
        await until(pilot, lambda: app.skill_path == second)
        assert [m.path for m in messages.of(OpenSkill)] == [second]
        assert [m.path for m in messages.of(SkillShown)] == [first, second]
        await pilot.press("f3")
        target = app.screen.query_one("#run-target")
        await until(pilot, lambda: "second" in str(target.render()))
        await pilot.press("f4")
        review = app.screen
        await until(pilot, lambda: review.pair is not None)
        await pilot.press("p")
        await until(pilot, lambda: len(examples(second)) == 6)
    assert len(examples(first)) == 5


async def test_ctrl_r_posts_the_runs_pairs_and_the_app_routes_them_to_review(tmp_path, messages):
    populate(tmp_path / "lab.db", count=2, run_id="r1")
    populate(tmp_path / "lab.db", count=2, run_id="r2")
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="review", reviewer="ann")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        review = app.screen
        await until(pilot, lambda: review.pair is not None and review.pair.run_id == "r1")
        await pilot.press("f3")
        run = app.screen
        await until(pilot, lambda: len(run.runs) == 2)
        run.shown_run = "r2"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.current_mode == "review" and review.pair.run_id == "r2")
        assert [m.filter for m in messages.of(ReviewPairs)] == [ReviewFilter(run_id="r2")]
        assert app.review_filter == review.filter == ReviewFilter(run_id="r2")


async def test_a_review_asked_for_before_the_pane_exists_starts_there(tmp_path, messages):
    populate(tmp_path / "lab.db", count=2, run_id="r1")
    populate(tmp_path / "lab.db", count=3, run_id="r2")
    app = LabApp(example_skill_path(), tmp_path / "lab.db", reviewer="ann")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        app.screen.post_message(ReviewPairs(ReviewFilter(run_id="r2", seed_index=2)))
        await until(pilot, lambda: app.current_mode == "review" and app.screen.pair is not None)
        assert app.screen.pair.id == "r2-p2" and app.screen.pair.seed_index == 2
        assert "seed example 3" in str(app.screen.query_one("#review-head").render())


async def test_open_skill_goes_to_a_seed_example_and_asks_before_dropping_edits(tmp_path, messages):
    first, second = skill_copy(tmp_path, "first"), skill_copy(tmp_path, "second")
    app = LabApp(first, tmp_path / "lab.db", start_mode="review")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        app.screen.post_message(OpenSkill(first, example=3))  # the Seeds pane is not built yet
        await until(pilot, lambda: app.current_mode == "seeds" and app.screen.skill is not None)
        seeds = app.screen
        await until(pilot, lambda: seeds.current == 3)
        seeds.query_one("#task", TextArea).insert("Mine. ")
        await until(pilot, lambda: seeds.unsaved)
        seeds.post_message(OpenSkill(second, example=1))
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is seeds)
        assert seeds.path == first and seeds.unsaved and app.skill_path == first
        seeds.post_message(OpenSkill(first, example=0))  # the same file: no question, nothing reloaded
        await until(pilot, lambda: seeds.current == 0)
        assert app.screen is seeds and seeds.skill.task_description.startswith("Mine. ")


async def test_promote_shows_in_the_seeds_pane_and_the_next_save_asks_nothing(tmp_path, messages):
    """The Seeds pane kept the old examples and the next ctrl+s asked to overwrite the promoted seed away."""
    skill = skill_copy(tmp_path, "skill")
    populate(tmp_path / "lab.db", count=2)
    app = LabApp(skill, tmp_path / "lab.db", reviewer="ann")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        seeds = app.screen
        await until(pilot, lambda: seeds.skill is not None)
        seeds.select_example(2)
        await pilot.press("f4")
        review = app.screen
        await until(pilot, lambda: review.pair is not None)
        await pilot.press("p")
        await until(pilot, lambda: len(seeds.skill.examples) == 6)
        assert [len(m.added) for m in messages.of(SeedFileChanged)] == [1]
        await pilot.press("f2")
        assert seeds.current == 2 and not seeds.unsaved
        assert seeds.skill.examples[5].question == "Question 0: when did the wing open?"
        seeds.query_one("#task", TextArea).insert("Edited. ")
        await until(pilot, lambda: seeds.unsaved)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not seeds.unsaved)
        assert not isinstance(app.screen, ChoiceDialog)
    saved = yaml.safe_load(skill.read_text())
    assert saved["task_description"].startswith("Edited. ") and len(saved["seed_examples"]) == 6


async def test_promote_over_unsaved_edits_keeps_both(tmp_path, messages):
    """Decided: the promoted example joins the unsaved edits, and as the file on disk is the one the
    pane read plus the promotion, ctrl+s saves both without asking."""
    skill = skill_copy(tmp_path, "skill")
    populate(tmp_path / "lab.db", count=2)
    app = LabApp(skill, tmp_path / "lab.db", reviewer="ann")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        seeds = app.screen
        await until(pilot, lambda: seeds.skill is not None)
        seeds.query_one("#question", TextArea).insert("Mine: ")
        await until(pilot, lambda: seeds.unsaved)
        await pilot.press("f4")
        await until(pilot, lambda: app.screen.pair is not None)
        await pilot.press("p")
        await until(pilot, lambda: len(seeds.skill.examples) == 6)
        assert messages.notified("Seed example 6 is also in the Seeds pane")
        await pilot.press("f2")
        assert seeds.unsaved and seeds.skill.examples[0].question.startswith("Mine: ")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not seeds.unsaved)
        assert not isinstance(app.screen, ChoiceDialog)
    saved = examples(skill)
    assert saved[0]["question"].startswith("Mine: ") and saved[5]["question"] == "Question 0: when did the wing open?"


async def test_promote_over_unsaved_edits_of_a_file_someone_else_changed_too_asks_on_save(tmp_path, messages):
    skill = skill_copy(tmp_path, "skill")
    populate(tmp_path / "lab.db", count=2)
    app = LabApp(skill, tmp_path / "lab.db", reviewer="ann")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        seeds = app.screen
        await until(pilot, lambda: seeds.skill is not None)
        seeds.query_one("#question", TextArea).insert("Mine: ")
        await until(pilot, lambda: seeds.unsaved)
        skill.write_text(skill.read_text().replace("Write internal", "Theirs. Write internal", 1))
        await pilot.press("f4")
        await until(pilot, lambda: app.screen.pair is not None)
        await pilot.press("p")
        await until(pilot, lambda: len(seeds.skill.examples) == 6)
        await pilot.press("f2", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert "changed on disk" in app.screen.question
        await pilot.click("#overwrite")
        await until(pilot, lambda: not seeds.unsaved)
    saved = examples(skill)
    assert saved[0]["question"].startswith("Mine: ") and len(saved) == 6
    assert "Theirs." in (tmp_path / "skill" / "qna.yaml.bak").read_text()
