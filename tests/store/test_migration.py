"""A database written by lab-tui before flows were data (schema 1, made by that version's own
`lab-tui run` and review code) opens, reviews, reports and exports after the upgrade."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lab_tui.cli import main
from lab_tui.pipeline.engine import run_flow
from lab_tui.pipeline.flow import FlowError
from lab_tui.pipeline.report import build_report
from lab_tui.store import review
from lab_tui.store.db import open_db
from lab_tui.store.export import build_export

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
    records = build_export(db, [run_id], format="lab").records
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



def test_a_schema_2_database_from_before_on_task_scores_and_reasons_gains_them_typed(tmp_path):
    """A REAL column added as TEXT would store scores as text and sort 0.10 after 0.9."""
    path = tmp_path / "lab.db"
    db = open_db(path)
    for table, column in (("rows", "ontask"), ("pairs", "ontask"), ("pairs", "ontask_scores"), ("pairs", "reason"),
                          ("verdicts", "reason")):
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.execute("DROP TABLE teacher_checks")
    db.conn.commit()
    db.conn.close()
    reopened = open_db(path)
    assert reopened["rows"].columns_dict["ontask"] is float and reopened["pairs"].columns_dict["ontask"] is float
    assert {"ontask_scores", "reason"} <= set(reopened["pairs"].columns_dict)
    assert "reason" in reopened["verdicts"].columns_dict and "teacher_checks" in reopened.table_names()


KILLED_AT_EACH_STATEMENT = r"""
import json, os, shutil, signal, sqlite3, sys
from pathlib import Path

fixture, work = Path(sys.argv[1]), Path(sys.argv[2])
connect = sqlite3.connect


def killed_at(statement: int) -> int:
    '''Migrate a fresh copy in a forked process that SIGKILLs itself as its `statement`-th SQL
    statement starts (every connection's statements counted, through sqlite3's trace callback):
    the exit status, or -1 when the migration ended before.'''
    folder = work / str(statement)
    folder.mkdir()
    shutil.copy(fixture, folder / "lab.db")
    child = os.fork()
    if child == 0:
        started = []

        def counting_connect(*args, **kwargs):
            conn = connect(*args, **kwargs)

            def trace(sql):
                started.append(sql)
                if len(started) == statement:
                    os.kill(os.getpid(), signal.SIGKILL)
            conn.set_trace_callback(trace)
            return conn

        sqlite3.connect = counting_connect
        open_db(folder / "lab.db")
        os._exit(0)
    return os.waitpid(child, 0)[1]


from lab_tui.store.db import open_db

statuses = []
while not statuses or statuses[-1] != 0:
    statuses.append(killed_at(len(statuses) + 1))
print(json.dumps(statuses))
"""


def _copy_of_v1(folder: Path) -> Path:
    """The fixture copied, to be read: reading a WAL-mode file creates files beside it."""
    folder.mkdir(exist_ok=True)
    return Path(shutil.copy(V1, folder / "v1.db"))


def _contents(path: Path) -> dict:
    """Every table's rows and every schema object of a database, read without changing it."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        contents = {"schema": conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall(),
                    "version": conn.execute("PRAGMA user_version").fetchone()[0]}
        for table in tables:
            contents[table] = sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
        return contents
    finally:
        conn.close()


def test_a_migration_killed_at_any_statement_leaves_a_database_every_command_opens_with_all_its_data(tmp_path, capsys):
    """Issue 16: a kill between the migration's steps left a half-migrated file ("duplicate column
    name: model" on every later open). Here the migration is killed as each of its SQL statements
    starts; then every command works and the file holds exactly what an uninterrupted migration
    makes, with the untouched v1 file beside it as the backup."""
    reference = tmp_path / "reference.db"
    shutil.copy(V1, reference)
    open_db(reference).conn.close()
    expected = _contents(reference)
    original = _contents(_copy_of_v1(tmp_path))
    work = tmp_path / "killed"
    work.mkdir()
    done = subprocess.run([sys.executable, "-c", KILLED_AT_EACH_STATEMENT, str(V1), str(work)],
                          capture_output=True, text=True, check=True)
    statuses = json.loads(done.stdout)
    kills = statuses[:-1]
    assert len(kills) > 40 and all(os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGKILL for s in kills)
    run_id = expected["runs"][0][0]
    half_migrated = 0
    for statement in range(1, len(kills) + 1):
        path = work / str(statement) / "lab.db"
        half_migrated += _contents(path)["version"] == 1 and (path.parent / "lab.db.v1-backup").exists()
        assert main(["runs", "--db", str(path), "--format", "json"]) == 0
        assert [run["id"] for run in json.loads(capsys.readouterr().out)] == [run_id]
        assert main(["report", run_id, "--db", str(path), "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["pairs"]["kept"] == 3
        assert main(["export", "--run", run_id, "--status", "all", "-o", str(path.parent / "out.jsonl"),
                     "--db", str(path)]) == 0
        assert len((path.parent / "out.jsonl").read_text().splitlines()) == 3
        assert _contents(path) == expected, f"killed at statement {statement}"
        assert _contents(path.parent / "lab.db.v1-backup") == original
        assert not list(path.parent.glob("*.partial"))
    assert half_migrated > 20, "most kills fell inside the migration, after its backup"


def test_a_backup_left_half_written_by_a_kill_is_written_again(old_db):
    partial = old_db.parent / "lab.db.v1-backup.partial"
    partial.write_bytes(b"SQLite format 3\x00 and then nothing")
    open_db(old_db)
    assert not partial.exists()
    assert _contents(old_db.parent / "lab.db.v1-backup") == _contents(_copy_of_v1(old_db.parent / "original"))


def test_two_processes_opening_an_old_database_at_once_migrate_it_once(old_db, tmp_path):
    script = "import sys\nfrom lab_tui.store.db import open_db\nopen_db(sys.argv[1]).conn.close()\n"
    children = [subprocess.Popen([sys.executable, "-c", script, str(old_db)], stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    assert [child.wait() for child in children] == [0, 0], [child.stderr.read() for child in children]
    reference = tmp_path / "reference.db"
    shutil.copy(V1, reference)
    open_db(reference).conn.close()
    assert _contents(old_db) == _contents(reference)
