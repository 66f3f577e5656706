"""The Run pane's count fields come from the flow f5 will run, a count left from another flow never
blocks f5, and what stops a start or a resume reaches the app's one error handler with its title."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from teacher_server import TeacherConfig, TeacherServer
from textual.notifications import Notify
from textual.widgets import Input, OptionList
from waiting import until

from lab_tui.pipeline.engine import RunParams, start_run
from lab_tui.pipeline.teacher import TeacherProfile
from lab_tui.resources import data_folder, example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db
from lab_tui.ui.app import LabApp

FREEFORM = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy" / "compositional_skills__linguistics__synonyms.yaml"


@pytest.fixture
def teacher_server():
    with TeacherServer(TeacherConfig()) as server:
        yield server


def placeholders(screen) -> dict[str, str]:
    return {name: screen.query_one(f"#run-count-{name}", Input).placeholder for name in screen.count_names}


def notified(messages: list, title: str) -> list[str]:
    return [m.notification.message for m in messages if isinstance(m, Notify) and m.notification.title == title]


def stored_counts(db_path) -> dict:
    return json.loads(open_db(db_path).execute("SELECT params FROM runs").fetchone()[0])["counts"]


async def test_the_count_fields_are_the_counts_of_the_flow_f5_will_run(tmp_path, teacher_server):
    folder = tmp_path / "texts_flow"
    shutil.copytree(data_folder("prompts") / "unstructured_to_structured", folder)
    (folder / "flow.yaml").write_text((folder / "flow.yaml").read_text().replace("count_param: contexts",
                                                                                "count_param: texts"))
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: placeholders(screen) == {"contexts": "10", "questions": "3"})
        screen.query_one("#run-flow", Input).value = str(folder)
        await until(pilot, lambda: placeholders(screen) == {"texts": "10"})
        screen.query_one("#run-api-base", Input).value = teacher_server.api_base
        screen.query_one("#run-count-texts", Input).value = "1"
        await pilot.press("f5")
        await until(pilot, lambda: screen.runs and screen.runs[0]["display_status"] == "completed")
    assert stored_counts(tmp_path / "lab.db") == {"texts": 1}
    assert open_db(tmp_path / "lab.db").execute("SELECT count(*) FROM rows WHERE stage = 'gen_texts'").fetchone()[0] == 5


async def test_a_count_typed_for_another_flow_never_blocks_f5(tmp_path, teacher_server):
    """A contexts value typed on a grounded skill, then a freeform skill opened: f5 runs it (issue 19)."""
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.pane_screens["run"]
        await until(pilot, lambda: screen.count_names == ["contexts", "questions"])
        screen.query_one("#run-api-base", Input).value = teacher_server.api_base
        screen.query_one("#run-count-contexts", Input).value = "3"
        screen.query_one("#run-count-questions", Input).value = "1"
        await pilot.press("f2")
        app.pane_screens["seeds"].open_path(FREEFORM)
        await until(pilot, lambda: app.pane_screens["seeds"].path == FREEFORM)
        await pilot.press("f3", "f5")  # at once: the fields may still be the grounded flow's
        await until(pilot, lambda: screen.runs and screen.runs[0]["display_status"] == "completed")
        assert screen.count_names == ["questions"] and screen.query_one("#run-count-questions", Input).value == "1"
    assert stored_counts(tmp_path / "lab.db") == {"questions": 1}


async def test_a_flow_that_cannot_run_is_shown_with_its_title_and_starts_nothing(tmp_path):
    messages: list = []
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = app.pane_screens["run"]
        screen.query_one("#run-flow", Input).value = "nosuch"
        await pilot.press("f5")
        await until(pilot, lambda: notified(messages, "Flow not usable"))
        assert "no flow 'nosuch'" in notified(messages, "Flow not usable")[0]
        assert screen.own_run is None
    assert open_db(tmp_path / "lab.db").execute("SELECT count(*) FROM runs").fetchone()[0] == 0


async def test_a_run_another_process_runs_is_not_resumed_and_the_pane_stays_free(tmp_path, teacher_server):
    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill,
                       TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base),
                       RunParams(counts={"contexts": 1, "questions": 1}))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        db = open_db(db_path)
        db["runs"].update(run_id, {"pid": other.pid})
        messages: list = []
        app = LabApp(example_skill_path(), db_path, start_mode="run")
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            screen = app.pane_screens["run"]
            await until(pilot, lambda: screen.runs)
            runs = screen.query_one("#run-runs", OptionList)
            runs.focus()
            runs.highlighted = 0
            await pilot.press("f6")
            await until(pilot, lambda: notified(messages, "Run not resumed") and screen.own_run is None)
            assert f"still running in process {other.pid}" in notified(messages, "Run not resumed")[0]
        assert teacher_server.log == []
    finally:
        other.kill()
        other.wait()
