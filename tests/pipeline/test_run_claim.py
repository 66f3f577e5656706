"""One run, one runner: a run is claimed in one write transaction before its set-up, so two resumes
started at once (two processes, or twice in one app) run it once; a set-up that fails gives it back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from teacher_server import stored_request_digest
from waiting import eventually

from lab_tui.pipeline.engine import NotResumable, RunParams, run_flow, start_run
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store import runs as store
from lab_tui.store.db import open_db


def profile(server) -> TeacherProfile:
    return TeacherProfile(model="openai/teacher", api_base=server.api_base, timeout=5, backoff_base=0.01)


def cancelled_run(db_path, server) -> str:
    """A run stored as cancelled before it sent anything: free for anyone to resume."""
    db = open_db(db_path)
    run_id = start_run(db, load_skill(example_skill_path()).skill, profile(server),
                       RunParams(counts={"contexts": 2, "questions": 2}, concurrency=4))
    store.mark_run(db, run_id, "cancelled")
    return run_id


@pytest.mark.slow
def test_two_resumes_started_at_once_run_the_run_once(teacher_server, tmp_path):
    teacher_server.config.latency = 0.2
    db_path = tmp_path / "lab.db"
    run_id = cancelled_run(db_path, teacher_server)
    env = dict(os.environ, LAB_TUI_HOME=str(tmp_path / "home"))
    command = [sys.executable, "-m", "lab_tui", "run", "--resume", run_id, "--db", str(db_path)]
    both = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    results = [(child.wait(timeout=180), *child.communicate()) for child in both]
    assert sorted(code for code, _, _ in results) == [0, 1], results
    _, _, refusal = next(result for result in results if result[0] == 1)
    assert "is still running in process" in refusal and "Traceback" not in refusal
    db = open_db(db_path)
    assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "completed"
    answered = teacher_server.answered()
    stored = [stored_request_digest(m, p) for m, p in db.execute("SELECT messages, params FROM requests")]
    assert len(answered) == len(stored) == len(set(stored)), "a request was sent by both processes"


async def test_a_run_going_in_this_process_is_not_run_again_beside_it(teacher_server, tmp_path):
    teacher_server.config.latency = 0.1
    db_path = tmp_path / "lab.db"
    run_id = cancelled_run(db_path, teacher_server)
    first = asyncio.create_task(run_flow(db_path, run_id))
    await eventually(lambda: teacher_server.log)  # the first one is past its claim and set-up
    with pytest.raises(NotResumable, match="still running in this process"):
        await run_flow(db_path, run_id)
    assert (await first).status == "completed"
    await close_clients()


async def test_a_set_up_that_fails_gives_the_run_back_as_it_was(teacher_server, tmp_path):
    db_path = tmp_path / "lab.db"
    run_id = cancelled_run(db_path, teacher_server)
    db = open_db(db_path)
    db.execute("UPDATE runs SET teacher = '{\"model\": 7, \"no_such_setting\": 1}' WHERE id = ?", [run_id])
    db.conn.commit()
    before = db.execute("SELECT status, pid FROM runs WHERE id = ?", [run_id]).fetchone()
    with pytest.raises(TypeError):
        await run_flow(db_path, run_id)
    assert db.execute("SELECT status, pid FROM runs WHERE id = ?", [run_id]).fetchone() == before
    assert teacher_server.log == []
