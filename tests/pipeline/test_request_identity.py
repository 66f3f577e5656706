"""Request identity: every answer is stored once, tied to the row that asked for it, and a run
cancelled or killed part way and resumed ends with exactly the pairs of an uninterrupted one.

Seed examples 1 and 3 of the inclusion fixture share a context; asking the same question of it (see
`skill_file`), their context prompts are the same: the case where identical prompts of two rows once
shared one request id, and the second answer overwrote the first. The grounded flow is named: this
skill alone would get the transformation flow."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from teacher_server import TeacherConfig, TeacherServer
from waiting import polled

from lab_tui.pipeline.engine import RunParams, run_flow, start_run
from lab_tui.pipeline.events import RunProgress
from lab_tui.pipeline.flow import load_flow
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db

INCLUSION = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy" / \
    "compositional_skills__grounded__linguistics__inclusion.yaml"
FIRST_QUESTION = "How would you rewrite this sentence to use more inclusive IT terminology?"
THIRD_QUESTION = "How would you revise this sentence to use Inclusive IT terminology?"
COUNTS = {"contexts": 2, "questions": 2}
SEEDS = 6
GROUNDED = load_flow("grounded_skills")


def profile(server) -> TeacherProfile:
    return TeacherProfile(model="openai/teacher", api_base=server.api_base, timeout=5, backoff_base=0.01,
                          max_attempts=3)


def skill_file(folder: Path) -> Path:
    """The inclusion fixture with seed example 3 asking example 1's question of the context they share
    (the grounded flow's context prompt shows the seed's question): two rows with the same prompt."""
    path = folder / "qna.yaml"
    path.write_text(INCLUSION.read_text().replace(THIRD_QUESTION, FIRST_QUESTION, 1))
    return path


def start(db_path, server, concurrency: int) -> str:
    return start_run(open_db(db_path), load_skill(skill_file(db_path.parent)).skill, profile(server),
                     RunParams(flow="grounded_skills", counts=dict(COUNTS), concurrency=concurrency))


def cancel_after(requests: int):
    """(cancel event, on_event) that cancels the run once this many requests were answered."""
    cancel = asyncio.Event()

    def on_event(event) -> None:
        if isinstance(event, RunProgress) and event.requests_done >= requests:
            cancel.set()

    return cancel, on_event


def pairs(db, run_id) -> list[tuple]:
    """A run's pairs by what they are (their ids name the run), in a stable order."""
    return sorted(db.execute("SELECT seed_index, context, question, response, user_turn, score, scores, outcome "
                             "FROM pairs WHERE run_id = ?", [run_id]).fetchall(), key=repr)


def stage_counts(db, run_id) -> dict:
    return {(stage, status): count for stage, status, count in db.execute(
        "SELECT stage, status, count(*) FROM rows WHERE run_id = ? GROUP BY stage, status", [run_id])}


def stored_answers(db, run_id=None) -> int:
    return db.execute("SELECT count(*) FROM requests WHERE response IS NOT NULL AND coalesce(run_id = ?, 1)",
                      [run_id]).fetchone()[0]


def assert_rows_hold_their_own_answers(db, run_id) -> None:
    """Every row made from an answer holds text of the answer its own request got; every pair is its rows' text."""
    responses = dict(db.execute("SELECT id, response FROM requests WHERE run_id = ?", [run_id]).fetchall())
    checked = 0
    for stage, request_id, data, explanation in db.execute(
            "SELECT stage, request_id, data, explanation FROM rows WHERE run_id = ? AND request_id IS NOT NULL "
            "AND status != 'failed'", [run_id]):
        block = GROUNDED.block(stage)
        said = json.loads(data)[block.writes] if block.writes else explanation
        assert said in responses[request_id], f"a {stage} row holds another row's answer"
        checked += 1
    assert checked > 0
    for pair_id, question, response in db.execute("SELECT id, question, response FROM pairs WHERE run_id = ?",
                                                  [run_id]):
        row = json.loads(db.execute("SELECT data FROM rows WHERE id = ?", [pair_id]).fetchone()[0])
        assert (row["question"], row["response"]) == (question, response), "a pair is not its rows' text"


def assert_the_shared_context_was_asked_by_both_rows(db, run_id) -> None:
    """The test's premise: two seed examples' context prompts are the same, and both asked."""
    asked, distinct = db.execute("SELECT count(*), count(DISTINCT messages) FROM requests WHERE run_id = ? AND "
                                 "stage = 'gen_contexts'", [run_id]).fetchone()
    assert asked == SEEDS * COUNTS["contexts"] and distinct == asked - COUNTS["contexts"]


async def test_two_rows_asking_the_same_prompt_each_keep_the_answer_they_were_given(tmp_path):
    with TeacherServer(TeacherConfig(vary=True)) as server:
        run_id = start(tmp_path / "lab.db", server, concurrency=8)
        assert (await run_flow(tmp_path / "lab.db", run_id)).status == "completed"
        await close_clients()
        db = open_db(tmp_path / "lab.db")
        assert_the_shared_context_was_asked_by_both_rows(db, run_id)
        assert stored_answers(db) == len(server.answered()), "an answer the teacher gave was overwritten"
    assert_rows_hold_their_own_answers(db, run_id)
    counts = stage_counts(db, run_id)
    assert counts[("gen_contexts", "ok")] == SEEDS * COUNTS["contexts"] and ("gen_contexts", "filtered") not in counts
    assert counts[("gen_grounded_questions", "ok")] == SEEDS * COUNTS["contexts"] * COUNTS["questions"]


async def test_a_varying_teachers_run_cancelled_and_resumed_keeps_every_answer_and_drops_none(tmp_path):
    with TeacherServer(TeacherConfig(vary=True, latency=0.02)) as server:
        run_id = start(tmp_path / "lab.db", server, concurrency=4)
        cancel, on_event = cancel_after(30)
        assert (await run_flow(tmp_path / "lab.db", run_id, on_event=on_event, cancel=cancel)).status == "cancelled"
        assert (await run_flow(tmp_path / "lab.db", run_id)).status == "completed"
        await close_clients()
        db = open_db(tmp_path / "lab.db")
        assert_the_shared_context_was_asked_by_both_rows(db, run_id)
        assert stored_answers(db) == len(server.answered()), "an answer was overwritten, or asked again on resume"
    assert_rows_hold_their_own_answers(db, run_id)
    counts = stage_counts(db, run_id)
    assert counts[("gen_contexts", "ok")] == SEEDS * COUNTS["contexts"] and ("gen_contexts", "filtered") not in counts
    assert counts[("gen_grounded_questions", "ok")] == SEEDS * COUNTS["contexts"] * COUNTS["questions"]
    kept = counts[("filter_grounded_questions", "kept")]
    assert db.execute("SELECT count(*) FROM pairs WHERE run_id = ?", [run_id]).fetchone()[0] == kept


async def test_a_run_cancelled_part_way_and_resumed_ends_with_the_pairs_of_an_uninterrupted_run(tmp_path):
    """One request at a time, so which of two identical contexts comes first (and keeps it) is the same in both."""
    with TeacherServer(TeacherConfig(latency=0.01)) as server:
        whole = start(tmp_path / "lab.db", server, concurrency=1)
        assert (await run_flow(tmp_path / "lab.db", whole)).status == "completed"
        resumed = start(tmp_path / "lab.db", server, concurrency=1)
        cancel, on_event = cancel_after(25)
        assert (await run_flow(tmp_path / "lab.db", resumed, on_event=on_event, cancel=cancel)).status == "cancelled"
        assert (await run_flow(tmp_path / "lab.db", resumed)).status == "completed"
        await close_clients()
        db = open_db(tmp_path / "lab.db")
        assert stored_answers(db) == len(server.answered()), "a request answered before the cancel was asked again"
    assert_rows_hold_their_own_answers(db, resumed)
    assert pairs(db, resumed) == pairs(db, whole) and len(pairs(db, whole)) > 10
    assert stage_counts(db, resumed) == stage_counts(db, whole)
    assert stage_counts(db, whole)[("gen_contexts", "filtered")] == COUNTS["contexts"], \
        "a deterministic teacher gives the shared context's rows one text: one of them is a duplicate"


def lab_tui(*args, home: Path, wait: bool = True):
    env = dict(os.environ, LAB_TUI_HOME=str(home))
    command = [sys.executable, "-m", "lab_tui", *args]
    if wait:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)


def killed_and_resumed(db_path: Path, server, home: Path) -> str:
    """A `lab-tui run` killed (SIGKILL) once part of its requests are answered, then resumed."""
    child = lab_tui("run", str(skill_file(db_path.parent)), "--flow", "grounded_skills", "--api-base", server.api_base, "--count", "contexts=2", "--count",
                    "questions=2", "--concurrency", "1", "--db", str(db_path), home=home, wait=False)
    run_id = child.stdout.readline().split()[1]
    polled(lambda: open_db(db_path).execute("SELECT count(*) FROM requests WHERE run_id = ? AND response IS NOT "
                                            "NULL", [run_id]).fetchone()[0] >= 25)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert open_db(db_path).execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "running"
    resumed = lab_tui("run", "--resume", run_id, "--db", str(db_path), home=home)
    assert resumed.returncode == 0, resumed.stderr
    return run_id


@pytest.mark.slow
def test_a_run_killed_part_way_and_resumed_ends_with_the_pairs_of_an_uninterrupted_run(tmp_path):
    db_path = tmp_path / "lab.db"
    with TeacherServer(TeacherConfig(latency=0.05)) as server:
        whole = lab_tui("run", str(skill_file(db_path.parent)), "--flow", "grounded_skills", "--api-base", server.api_base, "--contexts", "2", "--questions", "2",
                        "--concurrency", "1", "--db", str(db_path), home=tmp_path)
        assert whole.returncode == 0, whole.stderr
        resumed = killed_and_resumed(db_path, server, tmp_path)
    db = open_db(db_path)
    whole_id = whole.stdout.split()[1]
    assert_rows_hold_their_own_answers(db, resumed)
    assert pairs(db, resumed) == pairs(db, whole_id) and len(pairs(db, whole_id)) > 10
    assert stage_counts(db, resumed) == stage_counts(db, whole_id)


@pytest.mark.slow
def test_a_varying_teachers_run_killed_and_resumed_keeps_the_answers_it_stored_and_drops_none(tmp_path):
    db_path = tmp_path / "lab.db"
    with TeacherServer(TeacherConfig(vary=True, latency=0.05)) as server:
        run_id = killed_and_resumed(db_path, server, tmp_path)
        db = open_db(db_path)
        stored = stored_answers(db, run_id)
        assert stored <= len(server.answered()) <= stored + 1, "the kill may lose the one answer in flight, no more"
    assert_the_shared_context_was_asked_by_both_rows(db, run_id)
    assert_rows_hold_their_own_answers(db, run_id)
    counts = stage_counts(db, run_id)
    assert counts[("gen_contexts", "ok")] == SEEDS * COUNTS["contexts"] and ("gen_contexts", "filtered") not in counts
    assert counts[("gen_grounded_questions", "ok")] == SEEDS * COUNTS["contexts"] * COUNTS["questions"]
    assert db.execute("SELECT count(*) FROM pairs WHERE run_id = ?", [run_id]).fetchone()[0] == \
        counts[("filter_grounded_questions", "kept")]
