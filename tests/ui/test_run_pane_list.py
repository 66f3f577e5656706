"""The Run pane's runs list follows the database, keeps its highlight at its ends, lets a batch's
line be chosen, and the teacher profile is a list of the settings' profiles, remembered."""

from __future__ import annotations

import io
import json

from rich.console import Console
from textual.widgets import OptionList, Select
from waiting import until

from builders import populate
from lab_tui.config import Settings, save_settings, settings_path
from lab_tui.resources import example_skill_path
from lab_tui.store.db import open_db
from lab_tui.ui.app import LabApp
from lab_tui.ui.messages import ReviewPairs


def app_on(tmp_path) -> LabApp:
    return LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")


async def test_a_run_another_process_stores_appears_and_its_kept_count_stays_fresh_without_f8(tmp_path):
    open_db(tmp_path / "lab.db")
    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: screen.watch is not None)
        populate(tmp_path / "lab.db", count=2, run_id="cli-run")  # another connection, as the CLI's
        await until(pilot, lambda: [run["id"] for run in screen.runs] == ["cli-run"])
        assert screen.runs[0]["pairs_kept"] == 2
        db = open_db(tmp_path / "lab.db")
        pair = next(db["pairs"].rows)
        with db.conn:
            for index in range(3):  # three more pairs kept, as a run goes
                db["pairs"].insert({**pair, "id": f"more-{index}"})
        await until(pilot, lambda: screen.runs[0]["pairs_kept"] == 5)
        runs = screen.query_one("#run-runs", OptionList)
        assert "kept 5" in str(runs.get_option_at_index(0).prompt)


async def test_up_on_the_first_run_and_down_on_the_last_stay_put(tmp_path):
    for run_id in ("r1", "r2", "r3"):
        populate(tmp_path / "lab.db", count=1, run_id=run_id)
    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: len(screen.runs) == 3)
        runs = screen.query_one("#run-runs", OptionList)
        runs.focus()
        runs.highlighted = 0
        await pilot.press("up")
        assert runs.highlighted == 0
        await pilot.press("down", "down", "down", "down")
        assert runs.highlighted == 2


async def test_a_batchs_line_can_be_chosen_and_ctrl_r_reviews_the_whole_batch(tmp_path, messages):
    db = populate(tmp_path / "lab.db", count=2, run_id="r1")
    populate(tmp_path / "lab.db", count=3, run_id="r2")
    db["runs"].update("r1", {"batch_id": "batch-1"})
    db["runs"].update("r2", {"batch_id": "batch-1"})
    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: len(screen.runs) == 2)
        runs = screen.query_one("#run-runs", OptionList)
        runs.focus()
        runs.highlighted = 1
        await pilot.press("up")
        assert runs.highlighted == 0 and not runs.get_option_at_index(0).disabled
        await pilot.press("enter")
        await until(pilot, lambda: screen.shown_batch == "batch-1")
        await until(pilot, lambda: "kept 5" in str(screen.query_one("#run-progress").render()))
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any(isinstance(m, ReviewPairs) for m in messages.seen))
        asked = next(m for m in messages.seen if isinstance(m, ReviewPairs))
        assert asked.filter.batch_id == "batch-1" and asked.filter.run_id is None


async def test_the_teacher_profile_is_chosen_from_the_settings_and_remembered_across_sessions(tmp_path):
    save_settings(Settings({"teachers": {"gpu": {"model": "openai/big"}, "small": {"model": "openai/small"}}}))
    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        select = app.pane_screens["run"].query_one("#run-profile", Select)
        assert [value for _, value in select._options] == ["default", "gpu", "small"]
        assert select.value == "default"
        select.value = "gpu"
        await until(pilot, lambda: json.loads(settings_path().read_text()).get("run_profile") == "gpu")
        assert json.loads(settings_path().read_text())["teachers"]["small"] == {"model": "openai/small"}
    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        assert screen.query_one("#run-profile", Select).value == "gpu"
        await until(pilot, lambda: "big@" in str(screen.query_one("#run-target").render()))


async def test_a_settings_file_lab_tui_could_not_use_is_never_written_over_by_the_choice(tmp_path):
    """A wrong "recent" makes the file one lab-tui does not write (it runs on defaults for that key);
    choosing a profile must leave every byte of it as the user wrote it."""
    settings_path(create_dir=True).write_text('{"recent": 5, "teachers": {"gpu": {"model": "openai/big"}}}')
    before = settings_path().read_bytes()
    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        select = screen.query_one("#run-profile", Select)
        select.value = "gpu"
        await until(pilot, lambda: "big@" in str(screen.query_one("#run-target").render()))
    assert settings_path().read_bytes() == before


async def test_before_f5_the_pane_shows_the_estimate_of_what_it_would_send_and_follows_the_counts(tmp_path):
    from textual.widgets import Input

    from lab_tui.pipeline.estimate import estimate_run
    from lab_tui.pipeline.params import RunParams
    from lab_tui.pipeline.teacher import load_profile
    from lab_tui.seeds import load_skill

    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: screen.estimate is not None and screen.count_names == ["contexts", "questions"])
        screen.query_one("#run-count-contexts", Input).value = "1"
        screen.query_one("#run-concurrency", Input).value = "4"
        expected = estimate_run(open_db(tmp_path / "lab.db"), load_skill(example_skill_path()).skill, load_profile(),
                                RunParams(counts={"contexts": 1}, concurrency=4))

        def shown() -> str:
            console = Console(width=80, file=io.StringIO())
            console.print(screen.query_one("#run-progress").content)
            return console.file.getvalue()

        await until(pilot, lambda: screen.estimate == expected)
        await until(pilot, lambda: f"{expected.requests} requests" in shown())  # drawn by the next redraw tick
        assert "contexts 5," in shown()
        assert open_db(tmp_path / "lab.db").execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def two_runs_of_a_skill(db_path) -> None:
    """r-old and r-new of one skill file, written as the engine and review write them: r-new made more
    contexts, its pair judge scored lower and a reviewer rejected one of its pairs as off-task."""
    db = open_db(db_path)
    for index, (run_id, contexts, score) in enumerate((("r-old", 2, 3.0), ("r-new", 4, 2.0))):
        db["runs"].insert({"id": run_id, "created_at": f"2026-12-03T08:0{index}:00+00:00", "status": "completed",
                           "skill_path": "/t/compositional_skills/writing/email/qna.yaml", "skill_snapshot": "{}",
                           "flow": json.dumps({"name": "grounded_skills"}), "prompts_version": "p", "params": "{}",
                           "teacher": json.dumps({"model": "openai/teacher"})})
        with db.conn:
            for row in range(contexts):
                db["rows"].insert({"id": f"{run_id}-c{row}", "run_id": run_id, "stage": "gen_contexts", "data": "{}",
                                   "status": "ok", "created_at": "2026-12-03T08:00:00+00:00"})
                db["pairs"].insert({"id": f"{run_id}-p{row}", "run_id": run_id, "seed_index": row % 2,
                                    "question": "Q?", "response": "A.", "outcome": "kept", "score": score,
                                    "status": "rejected" if run_id == "r-new" and row == 0 else "pending",
                                    "reason": "off-task" if run_id == "r-new" and row == 0 else None,
                                    "scores": json.dumps([{"judge": "p", "label": "pair judge", "score": score}]),
                                    "ontask": 0.5 + 0.1 * index, "created_at": "2026-12-03T08:00:00+00:00"})


async def test_ctrl_g_compares_the_highlighted_run_with_the_one_before_it(tmp_path, messages):
    from lab_tui.ui.run_pane import CompareDialog

    two_runs_of_a_skill(tmp_path / "lab.db")
    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: len(screen.runs) == 2)
        runs = screen.query_one("#run-runs", OptionList)
        runs.focus()
        runs.highlighted = 1  # the older run: nothing before it
        await pilot.press("ctrl+g")
        await until(pilot, lambda: messages.notified("No earlier run"))
        runs.highlighted = 0
        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(app.screen, CompareDialog))
        comparison = app.screen.comparison
        assert (comparison.a.id, comparison.b.id) == ("r-old", "r-new")
        assert [(line.stage, line.a["done"], line.b["done"]) for line in comparison.stages] == [("gen_contexts", 2, 4)]
        assert [(line.reason, line.a, line.b) for line in comparison.reasons] == [("off-task", 0, 1)]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CompareDialog))


async def test_at_200x60_the_runs_list_uses_the_room(tmp_path):
    for index in range(20):
        populate(tmp_path / "lab.db", count=0, run_id=f"r{index:02d}")
    app = app_on(tmp_path)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: len(screen.runs) == 20)
        await pilot.pause()
        assert screen.query_one("#run-runs").size.height == 15


async def test_the_shown_run_says_how_its_judges_agree_with_reviewers_once_verdicts_exist(tmp_path):
    import subprocess
    import sys

    from teacher_server import TeacherConfig, TeacherServer

    with TeacherServer(TeacherConfig()) as server:
        subprocess.run([sys.executable, "-m", "lab_tui", "run", str(example_skill_path()), "--api-base", server.api_base,
                        "--contexts", "2", "--questions", "1", "--db", str(tmp_path / "lab.db")], check=True,
                       capture_output=True, timeout=300)
    app = app_on(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: len(screen.runs) == 1 and screen.flow_reason is not None)
        assert "their questions ask about it" in screen.flow_reason  # why f5 runs the grounded flow
        runs = screen.query_one("#run-runs", OptionList)
        runs.focus()
        runs.highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: screen.progress is not None and screen.agreements)
        assert screen.agreement_lines() == [], "no verdict yet: nothing to say"
        db = open_db(tmp_path / "lab.db")
        with db.conn:  # a reviewer judges every pair (as review records it), from another connection
            for index, (pair_id,) in enumerate(db.execute("SELECT id FROM pairs WHERE outcome = 'kept'").fetchall()):
                db["pairs"].update(pair_id, {"status": "accepted" if index % 2 else "rejected"})
        reviewed = db.execute("SELECT count(*) FROM pairs WHERE status != 'pending'").fetchone()[0]
        await until(pilot, lambda: screen.agreement_lines())
        lines = [str(line) for line in screen.agreement_lines()]
        assert any(line.startswith("Agreement pair judge: " + str(reviewed) + " verdicts") for line in lines), lines

        def drawn() -> str:
            console = Console(width=100, file=io.StringIO())
            console.print(screen.query_one("#run-progress").content)
            return console.file.getvalue()

        await until(pilot, lambda: "Agreement pair judge" in drawn())
