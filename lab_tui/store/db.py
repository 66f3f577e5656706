"""Open the lab-tui database and make sure its schema exists.

A `sqlite_utils.Database` is bound to the thread that opened it: open one per thread, and keep
all writes of a run in one writer. WAL with synchronous=NORMAL commits ~250x faster than the
default journal while surviving a process kill (only an OS crash can lose the last commits).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import sqlite_utils

from lab_tui.store.dbcheck import SCHEMA_VERSION, DatabaseProblem, check_db, read_only_connection

__all__ = ["DatabaseProblem", "SCHEMA_VERSION", "check_db", "is_read_only", "open_db"]


SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,            -- running | completed | failed | cancelled
    skill_path TEXT,
    skill_snapshot TEXT NOT NULL,    -- JSON of the skill as it was when the run started
    flow TEXT NOT NULL,              -- JSON of the flow definition with its prompts
    prompts_version TEXT NOT NULL,   -- hash of the prompt files used
    teacher TEXT NOT NULL,           -- JSON teacher profile, never a secret
    params TEXT NOT NULL,            -- JSON of counts, thresholds, concurrency...
    report TEXT,                     -- JSON validation report, written when the run ends
    error TEXT,
    pid INTEGER,                     -- process running it, to tell a live run from a dead one
    progress TEXT,                   -- JSON progress snapshot, at most a second old while it runs
    batch_id TEXT                    -- the batch (several skills run together) it belongs to
);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,             -- hash of (prompt, parameters, sample index)
    run_id TEXT NOT NULL REFERENCES runs(id),
    stage TEXT NOT NULL,
    model TEXT,                      -- the model that was asked (a block may use its own teacher)
    messages TEXT NOT NULL,          -- JSON chat messages sent
    params TEXT NOT NULL,            -- JSON model parameters
    response TEXT,                   -- raw answer text; NULL until answered
    finish_reason TEXT,
    tokens_in INTEGER,
    tokens_out INTEGER,
    latency_s REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at TEXT NOT NULL,
    answered_at TEXT,
    endpoint TEXT                    -- the URL that answered (or last failed): one of a profile's endpoints
);
CREATE INDEX IF NOT EXISTS requests_run_stage ON requests(run_id, stage);
CREATE TABLE IF NOT EXISTS rows (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id),
    stage TEXT NOT NULL,
    parent_id TEXT,
    request_id TEXT,
    seed_index INTEGER,              -- seed example shown as the in-prompt example
    data TEXT NOT NULL,              -- JSON: context / question / response as far as known
    status TEXT NOT NULL,            -- ok | kept | filtered | failed
    reason TEXT,                     -- why filtered or failed
    score REAL,
    explanation TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_run_stage ON rows(run_id, stage, status);
CREATE INDEX IF NOT EXISTS rows_parent ON rows(parent_id);
CREATE TABLE IF NOT EXISTS pairs (
    id TEXT PRIMARY KEY,             -- the id of the row that produced the pair's response
    run_id TEXT NOT NULL REFERENCES runs(id),
    seed_index INTEGER,
    context TEXT,                    -- NULL for flows without a context (freeform skills)
    question TEXT NOT NULL,
    response TEXT NOT NULL,
    user_turn TEXT,                  -- the user message of the training pair, as the flow builds it
    score REAL,                      -- the score of the pair's last judge: what score filters use
    scores TEXT,                     -- JSON list, flow order: {judge, label, score, explanation}
    outcome TEXT NOT NULL,           -- kept | filtered (dropped by the pair judge)
    status TEXT NOT NULL DEFAULT 'pending',  -- pending | accepted | rejected | skipped
    reviewer TEXT,
    edited_question TEXT,
    edited_response TEXT,
    note TEXT,
    version INTEGER NOT NULL DEFAULT 0,      -- bumped by every verdict: optimistic locking
    claimed_by TEXT,
    claimed_at REAL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pairs_queue ON pairs(run_id, outcome, status);
CREATE INDEX IF NOT EXISTS pairs_status ON pairs(status);
CREATE TABLE IF NOT EXISTS verdicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pair_id TEXT NOT NULL REFERENCES pairs(id),
    reviewer TEXT NOT NULL,
    status TEXT NOT NULL,            -- the pair's status after this verdict
    previous_status TEXT NOT NULL,
    edited_question TEXT,
    edited_response TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    undoes INTEGER                   -- id of the verdict this one undid (review undo)
);
CREATE INDEX IF NOT EXISTS verdicts_pair ON verdicts(pair_id);
"""


def _migrate_v1(db: sqlite_utils.Database, path: Path) -> None:
    """Version 1 named the grounded flow's two judges in columns; version 2 keeps a pair's judges as
    a list (any flow), lets `context` be empty and records each request's model. A copy of the
    file as it was is kept beside it first."""
    backup = path.with_name(path.name + ".v1-backup")
    if not backup.exists():
        target = sqlite3.connect(backup)
        with target:
            db.conn.backup(target)
        target.close()
    from lab_tui.pipeline.flow import stored_flow

    with db.conn:
        db.execute("ALTER TABLE requests ADD COLUMN model TEXT")
        db.execute("UPDATE requests SET model = json_extract(params, '$.model')")
        db.execute("ALTER TABLE pairs ADD COLUMN scores TEXT")
        for run_id, flow_json in db.execute("SELECT id, flow FROM runs").fetchall():
            try:
                flow = stored_flow(json.loads(flow_json))
            except (ValueError, TypeError):
                continue
            judges = [(name, flow.judge_label(name)) for name in flow.pair.judges][:2]
            if len(judges) != 2:
                continue
            (first, first_label), (second, second_label) = judges
            db.execute(
                "UPDATE pairs SET scores = json_array("
                "json_object('judge', ?, 'label', ?, 'score', question_score, 'explanation', question_explanation), "
                "json_object('judge', ?, 'label', ?, 'score', pair_score, 'explanation', pair_explanation)) "
                "WHERE run_id = ?", [first, first_label, second, second_label, run_id])
    db["pairs"].transform(rename={"pair_score": "score"},
                          drop={"question_score", "question_explanation", "pair_explanation"},
                          not_null={"context": False})
    db.conn.executescript(SCHEMA + "\nPRAGMA user_version=2;")


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` for use on the calling thread.

    A file lab-tui cannot write is opened read-only (see `is_read_only`); one it must not use
    raises `DatabaseProblem` before anything is written.
    """
    path = Path(path)
    if check_db(path) == "read-only":
        return _open_read_only(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    db.execute("PRAGMA foreign_keys=ON")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == 1:
        if "undoes" not in db["verdicts"].columns_dict:
            db.execute("ALTER TABLE verdicts ADD COLUMN undoes INTEGER")
        _migrate_v1(db, path)
    elif version < SCHEMA_VERSION:
        db.conn.executescript(SCHEMA + f"\nPRAGMA user_version={SCHEMA_VERSION};")
    for column in {"progress", "batch_id"} - set(db["runs"].columns_dict):  # added within schema 2
        db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")
    if "endpoint" not in db["requests"].columns_dict:  # schema 2 before endpoints were recorded
        db.execute("ALTER TABLE requests ADD COLUMN endpoint TEXT")
    return db


def _open_read_only(path: Path) -> sqlite_utils.Database:
    conn = read_only_connection(path)
    conn.execute("PRAGMA query_only=ON")
    return sqlite_utils.Database(conn)


def is_read_only(db: sqlite_utils.Database) -> bool:
    """Whether this database was opened read-only (a file lab-tui may read, review and export, not change)."""
    return bool(db.execute("PRAGMA query_only").fetchone()[0])
