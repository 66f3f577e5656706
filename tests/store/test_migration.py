"""A database written by lab-tui before flows were data (schema 1, made by that version's own
`lab-tui run` and review code) opens, reviews, reports and exports after the upgrade."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lab_tui.cli import main
from lab_tui.pipeline.engine import run_flow
from lab_tui.pipeline.flow import FlowError
from lab_tui.pipeline.report import build_report
from lab_tui.store import review
from lab_tui.store.db import open_db
from lab_tui.store.export import export_records

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "databases" / "lab_v1.db"


@pytest.fixture
def old_db(tmp_path):
    path = tmp_path / "lab.db"
    shutil.copy(V1, path)
    return path


def test_an_old_database_is_migrated_with_a_backup_and_keeps_every_pair_and_verdict(old_db):
    db = open_db(old_db)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert (old_db.parent / "lab.db.v1-backup").is_file()
    columns = db["pairs"].columns_dict
    assert {"score", "scores"} <= set(columns) and "pair_score" not in columns
    pairs = list(db.query("SELECT * FROM pairs ORDER BY created_at"))
    assert len(pairs) == 4
    for pair in pairs:
        judges = json.loads(pair["scores"])
        assert [j["judge"] for j in judges] == ["eval_grounded_questions", "evaluate_grounded_qa_pair"]
        assert judges[1]["score"] == pair["score"] and judges[0]["score"] == 1
    accepted = [p for p in pairs if p["status"] == "accepted"]
    assert len(accepted) == 1 and accepted[0]["note"] == "kept in v1"
    assert db.execute("SELECT count(*) FROM requests WHERE model = 'openai/teacher'").fetchone()[0] > 0
    assert open_db(old_db).execute("PRAGMA user_version").fetchone()[0] == 2, "a second open changes nothing"


def test_an_old_run_is_reviewed_reported_and_exported_but_not_resumed(old_db, tmp_path, capsys):
    db = open_db(old_db)
    run_id = db.execute("SELECT id FROM runs").fetchone()[0]
    pending = db.execute("SELECT id, version FROM pairs WHERE status = 'pending' AND outcome = 'kept' LIMIT 1").fetchone()
    review.record_verdict(db, pending[0], review.Session("bo"), "accepted", pending[1])
    records = list(export_records(db, run_id))
    assert len(records) == 2
    assert all(r["messages"][1]["content"].count("\n\n") >= 1 for r in records)
    assert [j["label"] for j in json.loads(records[0]["metadata"])["judges"]] == [
        "eval grounded questions", "evaluate grounded qa pair"]
    report = build_report(db, run_id)
    assert report["pairs"]["kept"] == 3 and report["stages"][0]["stage"] == "gen_contexts"
    assert main(["report", run_id, "--db", str(old_db)]) == 0
    assert "gen_grounded_questions" in capsys.readouterr().out
    with pytest.raises(FlowError, match="earlier lab-tui"):
        import asyncio

        asyncio.run(run_flow(old_db, run_id))


def test_a_schema_2_database_from_before_endpoints_gains_the_column_and_keeps_its_requests(tmp_path):
    path = tmp_path / "lab.db"
    db = open_db(path)
    db.execute("ALTER TABLE requests DROP COLUMN endpoint")  # as lab-tui wrote schema 2 before endpoints
    db["runs"].insert({"id": "r", "created_at": "t", "status": "completed", "skill_snapshot": "{}", "flow": "{}",
                       "prompts_version": "v", "teacher": "{}", "params": "{}"})
    db["requests"].insert({"id": "q", "run_id": "r", "stage": "s", "messages": "[]", "params": "{}",
                           "response": "an answer", "created_at": "t"})
    db.conn.commit()
    db.conn.close()
    reopened = open_db(path)
    assert "endpoint" in reopened["requests"].columns_dict
    assert [(row["response"], row["endpoint"]) for row in reopened["requests"].rows] == [("an answer", None)]
    assert reopened.execute("PRAGMA user_version").fetchone()[0] == 2
