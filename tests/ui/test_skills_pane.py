"""Pilot tests of the Skills pane: the list, lint in the background, the changed filter, open in Seeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from waiting import until

from lab_tui.store.db import open_db
from lab_tui.ui.app import LabApp
from lab_tui.ui.skills_pane import SkillList, row_text
from builders import FIXTURES, SKILLS, build


def make_app(tmp_path, folder: Path, **options) -> LabApp:
    return LabApp(None, tmp_path / "lab.db", start_mode="skills", taxonomy=folder, **options)


def pane(pilot):
    return pilot.app.pane_screens["skills"]


def linted(pilot) -> bool:
    screen = pane(pilot)
    return bool(screen.rows) and screen.linted == len(screen.rows) and screen.changes_error is None \
        and (screen.changes is not None)


def listed(pilot) -> list[str]:
    return [row.name for row in pilot.app.screen.query_one(SkillList).rows]


async def test_every_skill_is_listed_with_flow_examples_and_lint_counts(tmp_path):
    folder = build(tmp_path / "taxonomy")
    async with make_app(tmp_path, folder).run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: linted(pilot))
        rows = {row.name: row for row in pane(pilot).rows.values()}
        assert sorted(rows) == sorted([*SKILLS, "knowledge/moon"])
        inclusion = rows["compositional_skills/writing/inclusion"].summary
        assert (inclusion.flow, inclusion.examples, inclusion.counts["error"]) == ("grounded", 6, 0)
        assert rows["compositional_skills/linguistics/synonyms"].summary.flow == "freeform"
        assert rows["compositional_skills/writing/limerick"].summary.flow is None
        assert rows["knowledge/moon"].summary.kind == "knowledge"
        summary = str(pilot.app.screen.query_one("#skills-summary").render())
        assert "5 files · 4 skills · 2 changed vs origin/main" in summary


async def test_the_changed_filter_shows_committed_modified_and_untracked_skills(tmp_path):
    folder = build(tmp_path / "taxonomy")
    async with make_app(tmp_path, folder).run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: linted(pilot))
        await pilot.press("c")
        assert sorted(listed(pilot)) == ["compositional_skills/linguistics/synonyms",
                                         "compositional_skills/sales/objections"]
        await pilot.press("c")
        assert len(listed(pilot)) == 5


async def test_a_base_given_on_the_command_line_is_used(tmp_path):
    folder = build(tmp_path / "taxonomy")
    async with make_app(tmp_path, folder, base="feature").run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: linted(pilot))
        await pilot.press("c")
        assert sorted(listed(pilot)) == ["compositional_skills/linguistics/synonyms",
                                         "compositional_skills/sales/objections"]
        assert pane(pilot).changes.base == "feature"


async def test_outside_git_the_filter_says_why_and_the_list_stays(tmp_path, messages):
    folder = build(tmp_path / "loose", with_git=False)
    async with make_app(tmp_path, folder).run_test(size=(80, 24), message_hook=messages) as pilot:
        await until(pilot, lambda: pane(pilot).changes_error is not None and pane(pilot).linted == 5)
        await pilot.press("c")
        await pilot.pause()
        assert len(listed(pilot)) == 5 and not pane(pilot).changed_only
        assert messages.notified("is not in a git repository")


async def test_a_folder_with_no_skills_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    async with make_app(tmp_path, tmp_path / "empty").run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: pane(pilot).error is not None)
        assert "no qna.yaml under" in str(pilot.app.screen.query_one("#skills-summary").render())
        await pilot.press("enter", "c")
        assert pilot.app.current_mode == "skills"


async def test_enter_opens_the_skill_in_seeds_and_knowledge_is_refused(tmp_path, messages):
    folder = build(tmp_path / "taxonomy")
    async with make_app(tmp_path, folder).run_test(size=(80, 24), message_hook=messages) as pilot:
        await until(pilot, lambda: linted(pilot))
        await pilot.press("home")
        assert pilot.app.screen.query_one(SkillList).current.name == "compositional_skills/linguistics/synonyms"
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.current_mode == "seeds" and pilot.app.screen.skill is not None)
        target = (folder / "compositional_skills/linguistics/synonyms/qna.yaml").resolve()
        assert pilot.app.screen.path == target and pilot.app.skill_path == target
        await pilot.press("f9")
        assert pilot.app.current_mode == "skills"
        await pilot.press("end")
        assert pilot.app.screen.query_one(SkillList).current.name == "knowledge/moon"
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.current_mode == "skills"
        assert messages.notified("is knowledge")


async def test_last_run_and_review_progress_come_from_the_store(tmp_path):
    folder = build(tmp_path / "taxonomy")
    skill = (folder / "compositional_skills/writing/inclusion/qna.yaml").resolve()
    db = open_db(tmp_path / "lab.db")
    db["runs"].insert({"id": "run-1", "created_at": "2026-11-25T08:00:00+00:00", "status": "completed",
                       "skill_path": str(skill), "skill_snapshot": "{}", "flow": "{}", "prompts_version": "p",
                       "params": "{}", "teacher": json.dumps({"model": "m"})})
    for index, status in enumerate(("accepted", "rejected", "pending")):
        db["pairs"].insert({"id": f"p{index}", "run_id": "run-1", "context": "c", "question": "q", "response": "r",
                            "outcome": "kept", "status": status, "created_at": f"2026-11-25T08:00:0{index}+00:00"})
    db.close()
    async with make_app(tmp_path, folder).run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: linted(pilot) and pane(pilot).rows[skill].run is not None)
        run = pane(pilot).rows[skill].run
        assert (run["id"], run["display_status"], run["reviewed"], run["kept"]) == ("run-1", "completed", 2, 3)


def test_lab_tui_on_a_folder_starts_on_the_skills_pane_with_no_skill_open(tmp_path, monkeypatch):
    from lab_tui.cli import main

    seen = {}
    monkeypatch.setattr(LabApp, "run", lambda self: seen.update(mode=self.start_mode, skill=self.skill_path,
                                                                **self.options))
    assert main([str(tmp_path), "--db", str(tmp_path / "lab.db"), "--base", "upstream/main"]) == 0
    assert seen == {"mode": "skills", "skill": None, "taxonomy": tmp_path, "base": "upstream/main"}


async def test_a_large_folder_is_linted_in_worker_processes_inside_the_app(tmp_path, messages):
    """Spawned workers failed inside the app (the resource tracker got stderr's fileno -1 from Textual)."""
    folder = tmp_path / "big"
    fixtures = sorted(FIXTURES.glob("*.yaml"))
    for index in range(40):
        (folder / f"skill_{index:02d}").mkdir(parents=True)
        shutil.copy(fixtures[index % len(fixtures)], folder / f"skill_{index:02d}" / "qna.yaml")
    async with make_app(tmp_path, folder).run_test(size=(80, 24), message_hook=messages) as pilot:
        await until(pilot, lambda: pane(pilot).rows and pane(pilot).linted == 40)
        assert not messages.notices()


async def test_a_scan_that_raises_is_shown_not_swallowed(tmp_path, monkeypatch, messages):
    from lab_tui.ui import skills_pane

    def broken(folder):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(skills_pane, "skill_files", broken)
    async with make_app(tmp_path, tmp_path).run_test(size=(80, 24), message_hook=messages) as pilot:
        await until(pilot, lambda: messages.notified("disk on fire"))
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert [n.title for n in messages.notices() if "disk on fire" in n.message] == [
            "Reading the skills failed"], "shown once, by the app's one handler"


async def test_the_run_pane_refuses_to_start_with_no_skill_open(tmp_path, messages):
    folder = build(tmp_path / "taxonomy", with_git=False)
    async with make_app(tmp_path, folder).run_test(size=(80, 24), message_hook=messages) as pilot:
        await pilot.press("f3", "f5")
        await until(pilot, lambda: messages.notified("No skill is open"))
        assert pilot.app.current_mode == "run"


async def test_f9_from_a_skill_lists_the_taxonomy_around_it(tmp_path):
    folder = build(tmp_path / "taxonomy", with_git=False)
    skill = folder / "compositional_skills/writing/inclusion/qna.yaml"
    app = LabApp(skill, tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f9")
        await until(pilot, lambda: pane(pilot).rows and pane(pilot).linted == 5)
        assert pane(pilot).folder == folder.resolve()


async def test_coming_back_after_saving_in_seeds_relints_that_skill(tmp_path):
    folder = build(tmp_path / "taxonomy")
    target = (folder / "compositional_skills/linguistics/synonyms/qna.yaml").resolve()
    async with make_app(tmp_path, folder).run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: linted(pilot))
        before = pane(pilot).rows[target].summary.counts
        await pilot.press("home", "enter")
        await until(pilot, lambda: pilot.app.current_mode == "seeds" and pilot.app.screen.skill is not None)
        seeds = pilot.app.screen
        seeds.skill.examples = seeds.skill.examples[:4]
        seeds.changed()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: target.read_text().count("question:") == 4)
        await pilot.press("f9")
        await until(pilot, lambda: pane(pilot).rows[target].summary.examples == 4)
        assert pane(pilot).rows[target].summary.counts != before


async def test_two_skills_with_the_same_folder_name_stay_apart_at_60_columns(tmp_path):
    root = tmp_path / "taxonomy"
    for parent in ("reasoning/a", "reasoning/b"):
        folder = root / "compositional_skills" / parent / "logical_reasoning"
        folder.mkdir(parents=True)
        shutil.copy(FIXTURES / SKILLS["compositional_skills/linguistics/synonyms"], folder / "qna.yaml")
    app = make_app(tmp_path, root)
    async with app.run_test(size=(60, 20)) as pilot:
        await until(pilot, lambda: len(listed(pilot)) == 2)
        await pilot.pause()
        shown = pilot.app.screen.query_one(SkillList)
        names = [str(row_text(row, shown.scrollable_content_region.width)).split()[0] for row in shown.rows]
        assert names[0] != names[1] and names[0].startswith("a/") and names[1].startswith("b/"), names
