"""Review while the run goes on: pairs made after the Review pane opened show up by themselves,
and the Run pane's ctrl+r opens the shown run's pairs."""

from __future__ import annotations

import asyncio

from teacher_server import TeacherConfig, TeacherServer
from textual.widgets import Input
from waiting import until

from lab_tui.pipeline.engine import RunParams, run_flow, start_run
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db
from lab_tui.ui.app import LabApp


async def test_a_pair_made_after_the_review_pane_opened_shows_up_by_itself(tmp_path):
    """The run is made long (200 requests one at a time) and cancelled once the pair is decided, so
    "while the run is still going" does not depend on how fast a loaded machine answers."""
    with TeacherServer(TeacherConfig(latency=0.05)) as server:
        db_path = tmp_path / "lab.db"
        profile = TeacherProfile(model="openai/teacher", api_base=server.api_base, timeout=5)
        run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, profile,
                           RunParams(counts={"contexts": 20, "questions": 1}, concurrency=1))
        app = LabApp(example_skill_path(), db_path, start_mode="review", reviewer="ann")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.pane_screens["review"]
            await until(pilot, lambda: screen.counts is not None and screen.pair is None)
            assert open_db(db_path).execute("SELECT count(*) FROM pairs").fetchone()[0] == 0
            cancel = asyncio.Event()
            run = asyncio.create_task(run_flow(db_path, run_id, cancel=cancel))
            await until(pilot, lambda: screen.pair is not None)
            assert screen.pair.run_id == run_id
            assert not run.done(), "the pair should arrive while the run is still going"
            await pilot.press("a")
            await until(pilot, lambda: screen.counts.get("accepted") == 1)
            cancel.set()
            assert (await run).status == "cancelled"
            await close_clients()
        accepted = open_db(db_path).execute("SELECT count(*) FROM pairs WHERE status = 'accepted'").fetchone()[0]
        assert accepted == 1


async def test_ctrl_r_in_the_run_pane_reviews_the_shown_run(tmp_path):
    with TeacherServer(TeacherConfig()) as server:
        app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run", reviewer="ann")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.pane_screens["run"]
            screen.query_one("#run-api-base", Input).value = server.api_base
            await until(pilot, lambda: screen.count_names == ["contexts", "questions"])
            screen.query_one("#run-count-contexts", Input).value = "1"
            screen.query_one("#run-count-questions", Input).value = "1"
            await pilot.press("f5")
            await until(pilot, lambda: screen.runs and screen.runs[0]["display_status"] == "completed")
            run_id = screen.runs[0]["id"]
            await pilot.press("ctrl+r")
            await until(pilot, lambda: app.current_mode == "review")
            review = app.pane_screens["review"]
            await until(pilot, lambda: review.pair is not None)
            assert review.filter.run_id == run_id and review.pair.run_id == run_id
