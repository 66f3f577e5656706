"""The Run pane against the suite's own teacher server: a live run, cancel/resume, stored runs, snapshot."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from teacher_server import TeacherConfig, TeacherServer
from textual.messages import Update
from textual.widgets import Input, OptionList, Select
from waiting import until

from lab_tui.pipeline.events import RowDone, RowFailed, RunFinished, RunProgress, RunStarted
from lab_tui.resources import example_skill_path
from lab_tui.store.db import open_db
from lab_tui.ui.app import LabApp
from lab_tui.pipeline.flow import load_flow
from lab_tui.pipeline.progress import stored_progress
from lab_tui.ui.run_pane import OutputDialog

STAGES = [block.name for block in load_flow("grounded_skills").blocks]


@pytest.fixture
def teacher_server():
    with TeacherServer(TeacherConfig(latency=0.02)) as server:
        yield server


async def fill(pilot, screen, api_base, contexts="1", questions="2", concurrency="4"):
    """Type the teacher, the concurrency and the counts given (the pane has a field per count of the
    flow f5 will run, once it has read that flow)."""
    screen.query_one("#run-api-base", Input).value = api_base
    screen.query_one("#run-concurrency", Input).value = concurrency
    counts = {name: value for name, value in (("contexts", contexts), ("questions", questions)) if value}
    await until(pilot, lambda: set(counts) <= set(screen.count_names))
    for name, value in counts.items():
        screen.query_one(f"#run-count-{name}", Input).value = value


async def test_a_run_started_from_the_pane_shows_live_and_lands_in_the_store(tmp_path, teacher_server, messages):
    """Events are only recorded; the 10 Hz timer draws: the progress view is redrawn (an `Update`
    message for its widget; a redraw that changes its height posts a `Layout` too, which is the same
    redraw) a bounded number of times however many events arrive."""
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["run"]
        shown = screen.query_one("#run-progress")
        await fill(pilot, screen, teacher_server.api_base)
        seen: list = []
        original = screen.record_event
        screen.record_event = lambda event: (seen.append(event), original(event))
        await pilot.press("f5")
        await until(pilot, lambda: any(isinstance(event, RunFinished) for event in seen))
        run_id = seen[0].run_id
        assert isinstance(seen[0], RunStarted) and screen.own_run is None
        await until(pilot, lambda: any(run["id"] == run_id for run in screen.runs))
        progress = [event for event in seen if isinstance(event, RunProgress)]
        assert len(progress) > 1
        redraws = [m for m in messages.of(Update) if m.widget is shown]
        assert 0 < len(redraws) <= 3 + 10 * (progress[-1].elapsed_s + 1)
        final = {stage.stage: stage for stage in screen.progress.stages}
        assert final["gen_contexts"].done == 5 and final["combine_question_and_context"].done > 0
        console = Console(width=80, record=True, file=io.StringIO())
        console.print(screen.query_one("#run-progress").content)
        shown = console.export_text()
        for stage in STAGES:
            assert stage[:12] in shown
        assert "req/" in shown or "req ·" in shown
        assert screen.query_one("#run-recent", OptionList).option_count > 0
        screen.query_one("#run-recent", OptionList).focus()
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, OutputDialog))
        await pilot.press("escape")
    db = open_db(tmp_path / "lab.db")
    assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "completed"
    assert db.execute("SELECT count(*) FROM pairs WHERE run_id = ?", [run_id]).fetchone()[0] > 0


async def test_cancel_then_resume_completes_the_run(tmp_path, teacher_server):
    teacher_server.config.latency = 0.2
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        await fill(pilot, screen, teacher_server.api_base, concurrency="2")
        await pilot.press("f5")
        await until(pilot, lambda: screen.progress is not None and screen.progress.requests_done > 0)
        run_id = screen.own_run
        await pilot.press("f7")
        await until(pilot, lambda: screen.own_run is None)
        db = open_db(tmp_path / "lab.db")
        assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "cancelled"
        teacher_server.config.latency = 0.0
        await until(pilot, lambda: screen.runs and screen.runs[0]["id"] == run_id)
        runs = screen.query_one("#run-runs", OptionList)
        runs.focus()
        runs.highlighted = 0
        await pilot.press("f6")
        await until(pilot, lambda: db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0]
                    == "completed" and screen.own_run is None)


async def test_a_run_from_another_process_shows_live_from_the_store(tmp_path, teacher_server):
    teacher_server.config.latency = 0.3
    cli = subprocess.Popen(
        [sys.executable, "-m", "lab_tui", "run", str(example_skill_path()), "--api-base", teacher_server.api_base,
         "--contexts", "1", "--questions", "2", "--concurrency", "2", "--db", str(tmp_path / "lab.db")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        run_id = cli.stdout.readline().split()[-1]
        app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.pane_screens["run"]
            await until(pilot, lambda: screen.runs and screen.runs[0]["display_status"] == "running")
            screen.query_one("#run-runs", OptionList).focus()
            await pilot.press("enter")
            await until(pilot, lambda: screen.progress is not None)
            first = screen.progress.requests_done
            await until(pilot, lambda: screen.progress.requests_done > first)
            assert screen.own_run is None and screen.shown_run == run_id
            assert cli.wait(timeout=60) == 0
            await until(pilot, lambda: screen.runs and screen.runs[0]["display_status"] == "completed")
            expected, status = stored_progress(open_db(tmp_path / "lab.db"), run_id)
            assert status == "completed"
            await until(pilot, lambda: screen.progress.stages == expected.stages)
    finally:
        cli.kill()
        cli.wait()


async def test_a_run_over_two_endpoints_shows_a_line_for_each(tmp_path, teacher_server):
    from lab_tui.config import Settings, save_settings

    with TeacherServer(TeacherConfig(latency=0.02)) as second:
        save_settings(Settings({"teachers": {"fleet": {"model": "openai/teacher", "endpoints": [
            {"api_base": teacher_server.api_base, "max_concurrency": 2}, {"api_base": second.api_base,
                                                                          "max_concurrency": 2}]}}}))
        app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.pane_screens["run"]
            screen.query_one("#run-profile", Select).value = "fleet"
            await until(pilot, lambda: screen.count_names == ["contexts", "questions"])
            screen.query_one("#run-count-contexts", Input).value = "1"
            screen.query_one("#run-count-questions", Input).value = "1"
            await pilot.press("f5")
            await until(pilot, lambda: screen.own_run is None and screen.progress is not None
                        and screen.progress.requests_done > 0 and sum(e.answered for e in screen.progress.endpoints)
                        == screen.progress.requests_done)
            await pilot.pause()
            console = Console(width=80, file=io.StringIO())
            console.print(screen.query_one("#run-progress").content)
            text = console.file.getvalue()
            for server in (teacher_server, second):
                assert server.api_base.removeprefix("http://").removesuffix("/v1") in text
            assert len(teacher_server.answered()) > 0 and len(second.answered()) > 0
            params = open_db(tmp_path / "lab.db").execute("SELECT params FROM runs").fetchone()[0]
            assert '"concurrency": 4' in params, "a fleet's concurrency is its endpoints' sum"


async def test_a_profile_gone_from_the_settings_since_it_was_chosen_starts_nothing(tmp_path, messages):
    from lab_tui.config import Settings, save_settings

    save_settings(Settings({"teachers": {"nosuch": {"model": "openai/x"}}}))
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["run"]
        screen.query_one("#run-profile", Select).value = "nosuch"
        save_settings(Settings({"run_profile": "nosuch"}))  # the user edits the profile out meanwhile
        await pilot.press("f5")
        await until(pilot, lambda: messages.notified("nosuch"))
        assert screen.own_run is None
    assert open_db(tmp_path / "lab.db").execute("SELECT count(*) FROM runs").fetchone()[0] == 0


async def test_the_highlighted_output_stays_put_while_new_ones_arrive(tmp_path):
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        screen.shown_run = "r"
        for index in range(3):
            screen.record_event(RowDone("r", "gen_contexts", f"row{index}", "ok", f"output {index}"))
        screen.redraw()
        await pilot.pause()
        recent = screen.query_one("#run-recent", OptionList)
        recent.focus()
        recent.highlighted = 1
        screen.record_event(RowFailed("r", "gen_contexts", "row9", "missing tag", "raw"))
        screen.record_event(RowDone("r", "gen_contexts", "row10", "ok", "output 10"))
        screen.redraw()
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, OutputDialog))
        assert app.screen.event.row_id == "row1"


async def test_f5_runs_the_skill_open_in_the_seeds_pane_and_says_so(tmp_path, teacher_server):
    freeform = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy" / \
        "compositional_skills__linguistics__synonyms.yaml"
    app = LabApp(example_skill_path(), tmp_path / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.pane_screens["seeds"].path is not None)
        app.pane_screens["seeds"].open_path(freeform)
        await until(pilot, lambda: app.pane_screens["seeds"].path == freeform)
        await pilot.press("f3")
        screen = app.pane_screens["run"]
        target = screen.query_one("#run-target")
        await until(pilot, lambda: "freeform_skills" in str(target.render()))
        assert "synonyms" in str(target.render())
        await fill(pilot, screen, teacher_server.api_base, contexts="", questions="2")
        await pilot.press("f5")
        await until(pilot, lambda: screen.runs and screen.runs[0]["display_status"] == "completed")
        run_id = screen.runs[0]["id"]
    run = open_db(tmp_path / "lab.db").execute("SELECT skill_path, flow FROM runs WHERE id = ?", [run_id]).fetchone()
    assert run[0] == str(freeform) and '"freeform_skills"' in run[1]


async def test_resume_acts_on_the_highlighted_run_and_a_completed_run_says_so(tmp_path, teacher_server, messages):
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.pane_screens["run"]
        await fill(pilot, screen, teacher_server.api_base, questions="1")
        await pilot.press("f5")
        await until(pilot, lambda: screen.runs and screen.runs[0]["display_status"] == "completed")
        first = screen.runs[0]["id"]
        teacher_server.config.latency = 0.3
        await pilot.press("f5")
        await until(pilot, lambda: screen.own_run not in (None, first))
        second = screen.own_run
        await pilot.press("f7")
        await until(pilot, lambda: screen.own_run is None)
        await until(pilot, lambda: len(screen.runs) == 2)
        runs = screen.query_one("#run-runs", OptionList)
        assert runs.get_option_at_index(runs.highlighted).id == second, "the highlight stays on an older run"
        teacher_server.config.latency = 0.0
        await pilot.press("f6")
        status = lambda run_id: open_db(tmp_path / "lab.db").execute(  # noqa: E731
            "SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0]
        await until(pilot, lambda: status(second) == "completed" and screen.own_run is None)
        runs.highlighted = runs.get_option_index(first)
        await pilot.press("f6")
        await until(pilot, lambda: messages.notified("nothing to resume"))
        assert screen.own_run is None


async def test_a_batch_is_followed_together_one_line_per_skill_under_its_totals(tmp_path, teacher_server):
    from lab_tui.pipeline.batch import run_batch, start_batch
    from lab_tui.pipeline.engine import RunParams
    from lab_tui.pipeline.teacher import TeacherProfile, close_clients

    freeform = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy" / \
        "compositional_skills__linguistics__synonyms.yaml"
    profile = TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base, timeout=5)
    started = start_batch(tmp_path / "lab.db", [example_skill_path(), freeform], profile,
                          RunParams(counts={"contexts": 1, "questions": 1}, concurrency=4))
    await run_batch(tmp_path / "lab.db", list(started.runs), profile, 4)
    await close_clients()
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: len(screen.runs) == 2)
        runs = screen.query_one("#run-runs", OptionList)
        lines = [str(runs.get_option_at_index(i).prompt) for i in range(runs.option_count)]
        assert lines[0].startswith(f"batch {started.batch_id}") and "2 skills completed" in lines[0]
        assert {line.split()[0] for line in lines[1:]} == set(started.runs)
        assert any("quarterly_email" in line for line in lines) and any("synonyms" in line for line in lines)
        runs.focus()
        runs.highlighted = 2
        await pilot.press("enter")
        await until(pilot, lambda: screen.progress is not None and screen.progress.run_id == lines[2].split()[0])
        assert screen.progress.stages[0].done > 0
