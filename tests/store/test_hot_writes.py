"""The engine's writes (a few per request, as prepared statements): every column of the schema is
written, a resumed run's second write updates in place, and a verdict already given survives it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lab_tui.store import runs
from lab_tui.store.db import open_db

REVIEW_COLUMNS = {"status", "reviewer", "edited_question", "edited_response", "note", "version", "claimed_by",
                  "claimed_at"}


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "lab.db")
    runs.create_run(db, run_id="r", skill_path=None, skill_snapshot={"examples": []}, flow={}, prompts_version="v",
                    teacher={}, params={})
    return db


def columns(db, table) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def test_the_writes_name_every_column_the_engine_owns(db):
    assert set(runs.ROW_COLUMNS) == columns(db, "rows")
    assert set(runs.PAIR_COLUMNS) == columns(db, "pairs") - REVIEW_COLUMNS
    assert set(runs.REQUEST_RESULTS) | {"id", "run_id", "stage", "model", "messages", "params", "created_at"} == \
        columns(db, "requests")


def test_a_row_is_written_whole_and_rewritten_in_place_keeping_its_first_time(db):
    runs.record_row(db, id="a", run_id="r", stage="s", parent_id=None, request_id="q", seed_index=2,
                    data={"question": "why"}, status="ok", reason=None, score=None, explanation=None, ontask=0.75)
    first = dict(next(db.query("SELECT * FROM rows WHERE id = 'a'")))
    assert first["ontask"] == 0.75 and json.loads(first["data"]) == {"question": "why"} and first["seed_index"] == 2
    runs.record_row(db, id="a", run_id="r", stage="s", parent_id="p", request_id="q", seed_index=2,
                    data={"question": "how"}, status="failed", reason="truncated", score=1.0, explanation="x",
                    ontask=0.5)
    again = dict(next(db.query("SELECT * FROM rows WHERE id = 'a'")))
    assert again == {**first, "parent_id": "p", "data": '{"question": "how"}', "status": "failed",
                     "reason": "truncated", "score": 1.0, "explanation": "x", "ontask": 0.5}
    with pytest.raises(TypeError, match="no column bogus"):
        runs.record_row(db, id="b", run_id="r", stage="s", data={}, status="ok", bogus=1)


def test_a_pair_keeps_its_verdict_when_a_resumed_run_records_it_again(db):
    values = dict(id="p", run_id="r", seed_index=0, context=None, question="q", response="a", user_turn="q",
                  score=3.0, scores=json.dumps([{"judge": "j", "score": 3.0}]), outcome="kept", ontask=0.4,
                  ontask_scores={"question": 0.4, "response": 0.9})
    runs.record_pair(db, **values)
    pair = dict(next(db.query("SELECT * FROM pairs WHERE id = 'p'")))
    assert pair["ontask"] == 0.4 and json.loads(pair["ontask_scores"]) == {"question": 0.4, "response": 0.9}
    assert json.loads(pair["scores"])[0]["score"] == 3.0 and pair["status"] == "pending" and pair["reason"] is None
    db.execute("UPDATE pairs SET status = 'rejected', reason = 'wrong' WHERE id = 'p'")
    db.conn.commit()
    runs.record_pair(db, **{**values, "outcome": "filtered"})
    pair = dict(next(db.query("SELECT * FROM pairs WHERE id = 'p'")))
    assert (pair["outcome"], pair["status"], pair["reason"]) == ("filtered", "rejected", "wrong")


def test_a_request_is_begun_once_and_finished_with_its_answer_or_error(db):
    runs.begin_request(db, id="q", run_id="r", stage="s", model="m", messages=[{"role": "user", "content": "hi"}],
                       params={"temperature": 0})
    assert runs.stored_answer(db, "q") is None
    runs.begin_request(db, id="q", run_id="r", stage="s", model="other", messages=[], params={})
    runs.finish_request(db, "q", attempts=2, error="timed out", endpoint="http://a")
    assert db.execute("SELECT model, attempts, error, endpoint FROM requests").fetchall() == [
        ("m", 2, "timed out", "http://a")], "a second begin keeps the first"
    runs.finish_request(db, "q", response="hello", finish_reason="stop", tokens_in=3, tokens_out=1, latency_s=0.5,
                        attempts=3, error=None, answered_at=runs.now(), endpoint="http://b")
    assert runs.stored_answer(db, "q") == {"response": "hello", "finish_reason": "stop", "tokens_in": 3,
                                           "tokens_out": 1, "latency_s": 0.5, "attempts": 3}
    with pytest.raises(TypeError, match="no column bogus"):
        runs.finish_request(db, "q", bogus=1)


def test_the_store_loads_without_pandas_or_numpy():
    """sqlite-utils would import them (installed here, as for an InstructLab user) at every start."""
    found = subprocess.run([sys.executable, "-c", "import sys, lab_tui.pipeline.engine, lab_tui.store.review; "
                            "print(sorted({'pandas', 'numpy'} & set(sys.modules)))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert found == "[]"
    assert subprocess.run([sys.executable, "-c", "import lab_tui.store.db, pandas, numpy"]).returncode == 0, \
        "both stay importable afterwards"
