"""A batch spread over worker processes: every skill's rows and pairs in the one database, each
run's status right, the concurrency shared, and a worker that dies has its runs recorded, not lost."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal

from lab_tui.pipeline.batch import WorkerDied, run_in_workers, shares, start_batch
from lab_tui.pipeline.engine import RunParams, RunResult
from lab_tui.pipeline.events import RunFinished, RunProgress
from lab_tui.pipeline.teacher import TeacherProfile
from lab_tui.resources import example_skill_path
from lab_tui.store.db import open_db


def skills(tmp_path, count: int):
    paths = []
    for number in range(count):
        folder = tmp_path / f"skill{number}"
        folder.mkdir()
        paths.append(shutil.copy(example_skill_path(), folder / "qna.yaml"))
    return paths


def profile(server) -> TeacherProfile:
    return TeacherProfile(model="openai/teacher", api_base=server.api_base, timeout=5, backoff_base=0.01,
                          max_attempts=3)


def test_the_runs_and_the_concurrency_are_dealt_so_they_add_up():
    assert shares(["a", "b", "c"], 5, 2) == [(["a", "c"], 3), (["b"], 2)]
    assert shares(["a", "b"], 8, 4) == [(["a"], 4), (["b"], 4)], "no worker without a run"
    assert shares(["a", "b", "c"], 2, 3) == [(["a", "c"], 1), (["b"], 1)], "no worker without a request slot"
    assert shares(["a"], 8, 4) == [(["a"], 8)]


async def test_every_skill_of_a_batch_run_by_workers_is_stored_whole(teacher_server, tmp_path):
    teacher_server.config.latency = 0.01
    db_path = tmp_path / "lab.db"
    started = start_batch(db_path, skills(tmp_path, 3), profile(teacher_server),
                          RunParams(counts={"contexts": 1, "questions": 2}))
    events = []
    results = await run_in_workers(db_path, list(started.runs), profile(teacher_server), 4, 2, on_event=events.append)
    db = open_db(db_path)
    assert all(isinstance(result, RunResult) and result.status == "completed" for result in results.values())
    assert teacher_server.max_in_flight <= 4, "the workers share the batch's concurrency"
    runs = db.execute("SELECT id, status, pid FROM runs").fetchall()
    assert {status for _, status, _ in runs} == {"completed"}
    assert len({pid for _, _, pid in runs}) == 2 and os.getpid() not in {pid for _, _, pid in runs}, \
        "two worker processes ran them"
    for run_id in started.runs:
        rows = db.execute("SELECT count(*) FROM rows WHERE run_id = ? AND stage = 'gen_contexts'", [run_id]).fetchone()
        pairs = db.execute("SELECT count(*) FROM pairs WHERE run_id = ?", [run_id]).fetchone()[0]
        assert rows[0] == 5 and pairs > 0, "a context for each of 5 seed examples, and pairs from them"
    assert len(teacher_server.answered()) == db.execute("SELECT count(*) FROM requests").fetchone()[0]
    finished = {event.run_id: event.status for event in events if isinstance(event, RunFinished)}
    assert finished == dict.fromkeys(started.runs, "completed")
    last = {event.run_id: event for event in events if isinstance(event, RunProgress)}
    assert {run_id: progress.requests_done for run_id, progress in last.items()} == {
        run_id: db.execute("SELECT count(*) FROM requests WHERE run_id = ?", [run_id]).fetchone()[0]
        for run_id in started.runs}, "each run's final progress reaches the caller"


async def test_a_worker_that_dies_has_its_runs_recorded_as_failed_and_the_others_complete(teacher_server, tmp_path):
    teacher_server.config.latency = 0.05
    db_path = tmp_path / "lab.db"
    started = start_batch(db_path, skills(tmp_path, 2), profile(teacher_server),
                          RunParams(counts={"contexts": 2, "questions": 2}))
    victim, survivor = list(started.runs)
    killed = []

    def on_event(event) -> None:
        if isinstance(event, RunProgress) and event.run_id == victim and event.requests_done and not killed:
            pid = open_db(db_path).execute("SELECT pid FROM runs WHERE id = ?", [victim]).fetchone()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    results = await run_in_workers(db_path, [victim, survivor], profile(teacher_server), 4, 2, on_event=on_event)
    assert killed and killed[0] != os.getpid()
    assert isinstance(results[victim], WorkerDied) and "exit code -9" in str(results[victim])
    assert isinstance(results[survivor], RunResult) and results[survivor].status == "completed"
    db = open_db(db_path)
    status, error = db.execute("SELECT status, error FROM runs WHERE id = ?", [victim]).fetchone()
    assert status == "failed" and "worker process ended" in error, "recorded, so `--resume BATCH` runs it again"
    assert db.execute("SELECT count(*) FROM requests WHERE run_id = ? AND response IS NOT NULL",
                      [victim]).fetchone()[0] > 0, "what it stored before it died is kept"


async def test_cancelling_a_batch_stops_every_worker_and_their_runs_say_so(teacher_server, tmp_path):
    teacher_server.config.latency = 0.1
    db_path = tmp_path / "lab.db"
    started = start_batch(db_path, skills(tmp_path, 2), profile(teacher_server),
                          RunParams(counts={"contexts": 5, "questions": 3}))
    cancel = asyncio.Event()
    seen = set()

    def on_event(event) -> None:
        if isinstance(event, RunProgress) and event.requests_done:
            seen.add(event.run_id)
            if len(seen) == 2:
                cancel.set()

    results = await run_in_workers(db_path, list(started.runs), profile(teacher_server), 4, 2, on_event=on_event,
                                   cancel=cancel)
    assert {result.status for result in results.values()} == {"cancelled"}
    assert {status for (status,) in open_db(db_path).execute("SELECT status FROM runs")} == {"cancelled"}
