"""End-to-end runs of the grounded flow against the suite's teacher, stored in real SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest
from teacher_server import Fault, stored_request_digest
from waiting import eventually, polled

from lab_tui.cli import main
from lab_tui.pipeline.engine import NotResumable, RunAborted, RunParams, run_flow, start_run
from lab_tui.pipeline.events import RowFailed, RunFinished, RunProgress
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db


def profile(server) -> TeacherProfile:
    return TeacherProfile(model="openai/teacher", api_base=server.api_base, timeout=5, backoff_base=0.01,
                          max_attempts=3)


async def run(db_path, server, events=None, cancel=None, **params):
    db = open_db(db_path)
    run_id = start_run(db, load_skill(example_skill_path()).skill, profile(server), RunParams(**params))
    result = await run_flow(db_path, run_id, on_event=(events.append if events is not None else lambda e: None),
                            cancel=cancel)
    await close_clients()
    return run_id, result


def counts(db, run_id, stage):
    return dict(db.execute("SELECT status, count(*) FROM rows WHERE run_id = ? AND stage = ? GROUP BY status",
                           [run_id, stage]).fetchall())


async def test_a_run_produces_pairs_and_stores_every_request_and_row(teacher_server, tmp_path):
    events = []
    run_id, result = await run(tmp_path / "lab.db", teacher_server, events, counts={"contexts": 2, "questions": 3})
    db = open_db(tmp_path / "lab.db")
    assert result.status == "completed" and result.distinct_first == 10, "2 contexts for each of 5 seed examples"
    assert counts(db, run_id, "gen_contexts") == {"ok": 10}
    assert counts(db, run_id, "gen_grounded_questions") == {"ok": 30}
    question_requests = db.execute("SELECT count(*) FROM requests WHERE run_id = ? AND stage = "
                                   "'gen_grounded_questions'", [run_id]).fetchone()[0]
    assert question_requests == 10, "one request asks for all the questions of a context"
    kept_questions = counts(db, run_id, "filter_grounded_questions")
    assert kept_questions["kept"] + kept_questions.get("filtered", 0) == 30
    pairs = dict(db.execute("SELECT outcome, count(*) FROM pairs WHERE run_id = ? GROUP BY outcome", [run_id]))
    assert pairs["kept"] == counts(db, run_id, "combine_question_and_context")["ok"] > 0
    assert pairs["kept"] + pairs.get("filtered", 0) == kept_questions["kept"]
    pair = next(db.query("SELECT * FROM pairs WHERE run_id = ? AND outcome = 'kept' LIMIT 1", [run_id]))
    assert pair["user_turn"] == f"{pair['context']}\n\n{pair['question']}" and pair["score"] >= 2
    judges = json.loads(pair["scores"])
    assert [j["judge"] for j in judges] == ["eval_grounded_questions", "evaluate_grounded_qa_pair"]
    assert judges[0]["score"] == 1 and judges[1]["score"] == pair["score"] and judges[1]["label"] == "pair judge"
    assert {m for (m,) in db.execute("SELECT DISTINCT model FROM requests WHERE run_id = ?", [run_id])} == {
        "openai/teacher"}
    requests = db.execute("SELECT count(*), count(response), sum(attempts) FROM requests WHERE run_id = ?",
                          [run_id]).fetchone()
    assert requests[0] == requests[1] == len(teacher_server.answered()) == requests[2]
    run_row = next(db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    assert run_row["status"] == "completed" and json.loads(run_row["report"])["stages"]
    stored_flow = json.loads(run_row["flow"])
    assert len(stored_flow["blocks"]) == 8
    assert "{context}" in stored_flow["prompts"]["gen_grounded_responses"]["generation"]
    assert "api_key" not in run_row["teacher"] or "sk-" not in run_row["teacher"]
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    final = [e for e in events if isinstance(e, RunProgress)][-1]
    assert {s.stage: s.kept for s in final.stages}["filter_grounded_qa_pair"] == pairs["kept"]


async def test_rows_stream_stage_two_starts_before_stage_one_ends(teacher_server, tmp_path):
    teacher_server.config.faults = [Fault("timeout", match="context number 2,", retry_after=1.5)]
    run_id, _ = await run(tmp_path / "lab.db", teacher_server, counts={"contexts": 2, "questions": 1}, concurrency=16)
    db = open_db(tmp_path / "lab.db")
    first_question = db.execute("SELECT min(answered_at) FROM requests WHERE run_id = ? AND stage = "
                                "'gen_grounded_questions'", [run_id]).fetchone()[0]
    last_context = db.execute("SELECT max(answered_at) FROM requests WHERE run_id = ? AND stage = 'gen_contexts'",
                              [run_id]).fetchone()[0]
    assert first_question < last_context


async def test_every_kind_of_failure_is_kept_as_a_failed_row_with_its_reason(teacher_server, tmp_path):
    teacher_server.config.faults = [
        Fault("malformed", match="context number 1,"),
        Fault("truncated", match="context number 2,"),
        Fault("badscore", match="0 or 1", times=1),
        Fault("500", match="context number 3,", times=15),  # 5 seed examples x 3 attempts
        Fault("429", times=2, retry_after=0.05),
        Fault("no_choices", match="context number 4,"),
        Fault("huge", match="response from 1 to 3", times=1),
    ]
    events = []
    run_id, result = await run(tmp_path / "lab.db", teacher_server, events, counts={"contexts": 4, "questions": 2})
    db = open_db(tmp_path / "lab.db")
    assert result.status == "completed"
    reasons = {reason for (reason,) in db.execute(
        "SELECT reason FROM rows WHERE run_id = ? AND status = 'failed'", [run_id])}
    assert "missing tag [Start of Context]" in reasons
    assert "truncated at max tokens" in reasons
    assert any(r.startswith("score did not parse") for r in reasons)
    assert any(r.startswith("teacher error: server_error") for r in reasons)
    assert any(r.startswith("teacher error: bad_answer") and "no choices" in r for r in reasons)
    assert any("was not kept" in r for r in reasons), "an answer far over max_tokens is a failed row"
    assert max(len(r or "") for (r,) in db.execute("SELECT response FROM requests")) <= 65_536
    raw = db.execute("SELECT json_extract(data, '$.raw') FROM rows WHERE reason = 'missing tag [Start of Context]'"
                     ).fetchone()[0]
    assert raw.startswith("Sure! Here is")
    assert sum(result.failures.values()) == len([e for e in events if isinstance(e, RowFailed)]) == 10
    assert counts(db, run_id, "gen_contexts") == {"ok": 12, "failed": 8}


async def test_cancel_stops_cleanly_and_resume_finishes_without_resending(teacher_server, tmp_path):
    teacher_server.config.latency = 0.05
    cancel = asyncio.Event()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, RunProgress) and event.requests_done >= 6:
            cancel.set()

    db_path = tmp_path / "lab.db"
    db = open_db(db_path)
    run_id = start_run(db, load_skill(example_skill_path()).skill, profile(teacher_server),
                       RunParams(counts={"contexts": 1, "questions": 2}, concurrency=2))
    first = await run_flow(db_path, run_id, on_event=on_event, cancel=cancel)
    assert first.status == "cancelled"
    answered_before = set(teacher_server.answered())
    rows_before = dict(db.execute("SELECT id, created_at FROM rows WHERE run_id = ?", [run_id]).fetchall())
    second = await run_flow(db_path, run_id)
    await close_clients()
    assert second.status == "completed"
    answered = teacher_server.answered()
    assert len(answered) == len(set(answered)), "a request answered before the cancel was sent again"
    assert answered_before < set(answered)
    rows_after = dict(open_db(db_path).execute("SELECT id, created_at FROM rows WHERE run_id = ?", [run_id]).fetchall())
    assert rows_before and all(rows_after[row_id] == created for row_id, created in rows_before.items())


@pytest.mark.slow
def test_resume_after_sigkill_sends_no_stored_request_again(teacher_server, tmp_path):
    teacher_server.config.latency, teacher_server.config.jitter = 0.1, 0.5
    db_path = tmp_path / "lab.db"
    env = dict(os.environ, LAB_TUI_HOME=str(tmp_path / "home"))
    child = subprocess.Popen(
        [sys.executable, "-m", "lab_tui", "run", str(example_skill_path()), "--api-base", teacher_server.api_base,
         "--contexts", "2", "--questions", "2", "--concurrency", "4", "--db", str(db_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    first_line = child.stdout.readline()
    assert first_line.startswith("run: ")
    run_id = first_line.split()[1]
    polled(lambda: open_db(db_path).execute("SELECT count(*) FROM requests WHERE response IS NOT NULL").fetchone()[0]
           >= 12)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    db = open_db(db_path)
    stored = {stored_request_digest(m, p) for m, p in db.execute(
        "SELECT messages, params FROM requests WHERE response IS NOT NULL")}
    assert stored and stored <= set(teacher_server.answered())
    resumed = subprocess.run([sys.executable, "-m", "lab_tui", "run", "--resume", run_id, "--db", str(db_path)],
                             capture_output=True, text=True, env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"run: {run_id}\n")
    answered = teacher_server.answered()
    assert all(answered.count(digest) == 1 for digest in stored)
    db = open_db(db_path)
    assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "completed"
    rows = db.execute("SELECT count(*), count(DISTINCT id) FROM rows WHERE run_id = ?", [run_id]).fetchone()
    assert rows[0] == rows[1] and counts(db, run_id, "gen_contexts") == {"ok": 10}


async def test_preview_runs_one_seed_example_with_small_counts(teacher_server, tmp_path):
    run_id, result = await run(tmp_path / "lab.db", teacher_server, preview_seed=2)
    db = open_db(tmp_path / "lab.db")
    assert counts(db, run_id, "gen_contexts") == {"ok": 2}
    assert {s for (s,) in db.execute("SELECT DISTINCT seed_index FROM rows WHERE run_id = ?", [run_id])} == {0}
    seed = load_skill(example_skill_path()).skill.examples[2]
    prompt = db.execute("SELECT messages FROM requests WHERE run_id = ? AND stage = 'gen_contexts'",
                        [run_id]).fetchone()[0]
    assert seed.context.splitlines()[0] in json.loads(prompt)[1]["content"]


async def test_every_row_hangs_under_the_row_it_came_from_and_a_pair_is_its_response_row(teacher_server, tmp_path):
    run_id, _ = await run(tmp_path / "lab.db", teacher_server, counts={"contexts": 1, "questions": 2})
    db = open_db(tmp_path / "lab.db")
    rows = {row["id"]: row for row in db.query("SELECT * FROM rows WHERE run_id = ?", [run_id])}
    order = ["gen_contexts", "gen_grounded_questions", "eval_grounded_questions", "filter_grounded_questions",
             "gen_grounded_responses", "evaluate_grounded_qa_pair", "filter_grounded_qa_pair",
             "combine_question_and_context"]
    for row in rows.values():
        parent = rows.get(row["parent_id"])
        if row["stage"] == "gen_contexts":
            assert row["parent_id"] is None
        else:
            assert parent["stage"] == order[order.index(row["stage"]) - 1]
    for (pair_id,) in db.execute("SELECT id FROM pairs WHERE run_id = ?", [run_id]):
        assert rows[pair_id]["stage"] == "gen_grounded_responses"


def test_preview_prints_every_intermediate_output_as_a_tree_also_when_resumed(teacher_server, tmp_path, capsys,
                                                                               monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    db_path = str(tmp_path / "lab.db")
    assert main(["run", str(example_skill_path()), "--preview", "--api-base", teacher_server.api_base,
                 "--db", db_path]) == 0
    out = capsys.readouterr().out
    db = open_db(db_path)
    outputs = [json.loads(data) for (data,) in db.execute(
        "SELECT data FROM rows WHERE stage = 'gen_grounded_responses' AND status = 'ok'")]
    assert outputs
    for data in outputs:
        assert data["question"] in out
        assert data["response"].splitlines()[0] in out
    assert out.count("gen_contexts [ok]") == 2 and "evaluate_grounded_qa_pair [ok] score" in out
    assert main(["run", "--resume", out.split()[1], "--db", db_path]) == 0
    assert capsys.readouterr().out.count("gen_contexts [ok]") == 2


async def test_a_run_threshold_override_filters_every_pair_below_it(teacher_server, tmp_path):
    run_id, _ = await run(tmp_path / "lab.db", teacher_server, counts={"contexts": 1, "questions": 2},
                          overrides={"filter_grounded_qa_pair.threshold": 3})
    db = open_db(tmp_path / "lab.db")
    scores = dict(db.execute("SELECT outcome, max(score) FROM pairs WHERE run_id = ? AND outcome = 'filtered' "
                             "UNION ALL SELECT outcome, min(score) FROM pairs WHERE run_id = ? "
                             "AND outcome = 'kept'", [run_id, run_id]).fetchall())
    assert scores["filtered"] == 2.0 and scores["kept"] == 3.0


async def test_a_run_still_running_in_another_live_process_is_not_resumed(teacher_server, tmp_path):
    db_path = tmp_path / "lab.db"
    db = open_db(db_path)
    run_id = start_run(db, load_skill(example_skill_path()).skill, profile(teacher_server),
                       RunParams(counts={"contexts": 1, "questions": 1}))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        db["runs"].update(run_id, {"pid": other.pid})
        with pytest.raises(NotResumable, match="still running in process"):
            await run_flow(db_path, run_id)
        assert teacher_server.log == []
    finally:
        other.kill()
        other.wait()
    assert (await run_flow(db_path, run_id)).status == "completed"
    await close_clients()


async def test_a_second_run_of_the_same_skill_asks_the_teacher_again_and_owns_its_requests(teacher_server, tmp_path):
    first, _ = await run(tmp_path / "lab.db", teacher_server, counts={"contexts": 2, "questions": 1})
    sent = len(teacher_server.log)
    second, result = await run(tmp_path / "lab.db", teacher_server, counts={"contexts": 2, "questions": 1})
    db = open_db(tmp_path / "lab.db")
    assert len(teacher_server.log) == 2 * sent
    per_run = dict(db.execute("SELECT run_id, count(*) FROM requests GROUP BY run_id"))
    assert per_run == {first: sent, second: sent}
    assert sum(s.tokens_in for s in result.stages) > 0


async def test_requests_in_flight_never_exceed_the_bound_and_a_resume_may_change_it(teacher_server, tmp_path):
    teacher_server.config.latency = 0.05
    cancel = asyncio.Event()

    def on_event(event):
        if isinstance(event, RunProgress) and event.requests_done >= 8:
            cancel.set()

    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, profile(teacher_server),
                       RunParams(counts={"contexts": 2, "questions": 2}, concurrency=3))
    assert (await run_flow(db_path, run_id, on_event=on_event, cancel=cancel)).status == "cancelled"
    assert teacher_server.max_in_flight == 3
    teacher_server.max_in_flight = 0
    assert (await run_flow(db_path, run_id, concurrency=1)).status == "completed"
    assert teacher_server.max_in_flight == 1
    await close_clients()


async def test_cancelling_the_run_task_leaves_no_request_running_behind_it(teacher_server, tmp_path):
    teacher_server.config.latency = 0.1
    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, profile(teacher_server),
                       RunParams(counts={"contexts": 2, "questions": 2}, concurrency=4))
    started = asyncio.Event()
    task = asyncio.create_task(run_flow(db_path, run_id, on_event=lambda e: isinstance(e, RunProgress)
                                        and e.requests_done >= 4 and started.set()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ours = [t for t in asyncio.all_tasks() if "lab_tui" in t.get_coro().cr_code.co_filename]
    assert ours == [], "a task of the run outlived it"
    await eventually(lambda: teacher_server.in_flight == 0)  # requests already sent land
    assert open_db(db_path).execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "cancelled"
    await close_clients()


async def test_a_report_that_cannot_be_built_does_not_fail_a_completed_run(teacher_server, tmp_path, monkeypatch):
    import lab_tui.pipeline.report as report

    def broken(db, run_id):
        raise ValueError("no report today")

    monkeypatch.setattr(report, "build_report", broken)
    run_id, result = await run(tmp_path / "lab.db", teacher_server, counts={"contexts": 1, "questions": 1})
    row = open_db(tmp_path / "lab.db").execute("SELECT status, error, report FROM runs WHERE id = ?",
                                               [run_id]).fetchone()
    assert result.status == "completed" and row[0] == "completed" and row[2] is None
    assert "no report today" in row[1]


async def test_an_unreachable_teacher_stops_the_run_at_once_with_what_to_do(tmp_path):
    events = []
    db_path = tmp_path / "lab.db"
    unreachable = TeacherProfile(model="openai/teacher", api_base="http://127.0.0.1:9/v1", timeout=2,
                                 backoff_base=0.01, max_attempts=5)
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, unreachable,
                       RunParams(counts={"contexts": 3, "questions": 2}))
    with pytest.raises(RunAborted, match="Nothing answers at http://127.0.0.1:9/v1.*ilab model serve"):
        await run_flow(db_path, run_id, on_event=events.append)
    await close_clients()
    run_row = open_db(db_path).execute("SELECT status, error FROM runs WHERE id = ?", [run_id]).fetchone()
    assert run_row[0] == "failed" and "Nothing answers" in run_row[1]
    assert open_db(db_path).execute("SELECT max(attempts) FROM requests").fetchone()[0] == 1, "no retry before any answer"
    final = [e for e in events if isinstance(e, RunProgress)][-1]
    assert final.eta_s == 0 or final.eta_s is None


async def test_a_refused_key_stops_the_run_and_a_resume_finishes_it(teacher_server, tmp_path):
    teacher_server.config.faults = [Fault("auth", times=1)]
    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, profile(teacher_server),
                       RunParams(counts={"contexts": 1, "questions": 1}, concurrency=1))
    with pytest.raises(RunAborted, match="refused the API key"):
        await run_flow(db_path, run_id)
    assert len(teacher_server.log) == 1, "every request was sent against a refused key"
    assert (await run_flow(db_path, run_id)).status == "completed"
    await close_clients()


async def test_a_database_locked_by_another_process_for_a_while_loses_no_row(teacher_server, tmp_path):
    import sqlite3
    import threading

    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, profile(teacher_server),
                       RunParams(counts={"contexts": 1, "questions": 2}, concurrency=8))
    released = threading.Event()

    def hold_lock():
        other = sqlite3.connect(db_path, timeout=30)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        released.wait(timeout=30)
        other.commit()
        other.close()

    locked = threading.Event()
    holder = threading.Thread(target=hold_lock)

    def on_event(event):
        if isinstance(event, RunProgress) and event.requests_done >= 3 and not holder.is_alive() and not locked.is_set():
            holder.start()
            locked.wait(timeout=10)
            threading.Timer(1.0, released.set).start()

    result = await run_flow(db_path, run_id, on_event=on_event)
    await close_clients()
    holder.join()
    assert locked.is_set(), "the lock was never taken: the test proves nothing"
    db = open_db(db_path)
    assert result.status == "completed"
    assert counts(db, run_id, "gen_contexts") == {"ok": 5}
    assert sum(counts(db, run_id, "gen_grounded_questions").values()) == 10
    questions_kept = counts(db, run_id, "filter_grounded_questions").get("kept", 0)
    assert sum(counts(db, run_id, "evaluate_grounded_qa_pair").values()) == questions_kept
    assert db.execute("SELECT count(*) FROM pairs WHERE run_id = ?", [run_id]).fetchone()[0] == questions_kept


async def test_a_running_run_saves_a_progress_snapshot_other_processes_read_in_one_row(teacher_server, tmp_path):
    from lab_tui.pipeline.progress import saved_progress, stored_progress

    teacher_server.config.latency = 0.05
    seen = []
    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, profile(teacher_server),
                       RunParams(counts={"contexts": 4, "questions": 1}, concurrency=2))

    def on_event(event):
        if isinstance(event, RunProgress) and event.elapsed_s > 1.0 and not seen:
            seen.append(saved_progress(open_db(db_path), run_id))

    result = await run_flow(db_path, run_id, on_event=on_event)
    await close_clients()
    snapshot, status = seen[0]
    assert status == "running" and 0 < snapshot.requests_done < result.stages[0].done + 100
    assert [s.stage for s in snapshot.stages][0] == "gen_contexts"
    final, status = stored_progress(open_db(db_path), run_id)
    assert status == "completed" and {s.stage: s.done for s in final.stages} == {s.stage: s.done for s in result.stages}


async def test_a_large_run_cancelled_midway_and_resumed_asks_nothing_twice(teacher_server, tmp_path):
    cancel = asyncio.Event()

    def on_event(event):
        if isinstance(event, RunProgress) and event.requests_done >= 400:
            cancel.set()

    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, profile(teacher_server),
                       RunParams(counts={"contexts": 20, "questions": 2}, concurrency=32))
    assert (await run_flow(db_path, run_id, on_event=on_event, cancel=cancel)).status == "cancelled"
    assert (await run_flow(db_path, run_id)).status == "completed"
    await close_clients()
    answered = teacher_server.answered()
    assert len(answered) > 600, "the run is smaller than meant"
    assert len(answered) == len(set(answered)), "a request answered before was sent again"
    db = open_db(db_path)
    assert counts(db, run_id, "gen_contexts") == {"ok": 100}
    assert db.execute("SELECT count(*) FROM requests WHERE run_id = ? AND response IS NULL", [run_id]).fetchone()[0] == 0
