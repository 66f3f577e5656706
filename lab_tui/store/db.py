"""Open the lab-tui database and make sure its schema exists.

A `sqlite_utils.Database` is bound to the thread that opened it: open one per thread, and keep
all writes of a run in one writer. WAL with synchronous=NORMAL commits ~250x faster than the
default journal while surviving a process kill (only an OS crash can lose the last commits).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path


def _import_sqlite_utils():
    """sqlite-utils imports pandas and numpy when they are installed (an InstructLab user has them),
    only to map their types on insert, which lab-tui never does: ~0.6 s of CPU at every start. They
    are hidden while it loads, unless something imported them already (then they cost nothing)."""
    hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # an import of it raises ImportError, which sqlite-utils expects
    try:
        import sqlite_utils
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
    return sqlite_utils


sqlite_utils = _import_sqlite_utils()

from lab_tui.store.dbcheck import SCHEMA_VERSION, DatabaseProblem, check_db, read_only_connection  # noqa: E402

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
    created_at TEXT NOT NULL,
    ontask REAL                      -- how close the text this row generated is to the skill's seeds (0-1)
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
    created_at TEXT NOT NULL,
    ontask REAL,                     -- the least on-task of the pair's generated texts: what filters and sorts use
    ontask_scores TEXT,              -- JSON {field: on-task score} of each generated text (context, question, response)
    reason TEXT                      -- the reject reason code of the latest verdict (off-task, wrong, incomplete...)
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
    undoes INTEGER,                  -- id of the verdict this one undid (review undo)
    reason TEXT                      -- the reject reason code given with it
);
CREATE INDEX IF NOT EXISTS verdicts_pair ON verdicts(pair_id);
CREATE TABLE IF NOT EXISTS teacher_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    checked_at TEXT NOT NULL,
    model TEXT NOT NULL,
    api_base TEXT,
    latency_s REAL,                  -- the check request's own latency; NULL when the teacher did not answer
    error TEXT
);
"""


ADDED_COLUMNS = (("runs", "progress", "TEXT"), ("runs", "batch_id", "TEXT"), ("requests", "endpoint", "TEXT"),
                 ("rows", "ontask", "REAL"), ("pairs", "ontask", "REAL"), ("pairs", "ontask_scores", "TEXT"),
                 ("pairs", "reason", "TEXT"), ("verdicts", "reason", "TEXT"))
"""Columns schema 2 gained after it was released (table, column, type): a database without them gets
them when opened."""
ADDED_TABLES = ("teacher_checks",)
"""Tables schema 2 gained after it was released (`SCHEMA` creates them when they are missing)."""


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
    if _behind(db):
        _upgrade(db, path)
    db.execute("PRAGMA foreign_keys=ON")
    return db


def _behind(db: sqlite_utils.Database) -> bool:
    if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        return True
    return not set(ADDED_TABLES) <= set(db.table_names()) or any(
        column not in db[table].columns_dict for table, column, _ in ADDED_COLUMNS)


def _upgrade(db: sqlite_utils.Database, path: Path) -> None:
    """Create or migrate the schema in one transaction: a process killed at any point leaves the
    database as it was, and the next open starts again. The write lock is taken first, so two
    processes opening an old file at once migrate it once. Foreign keys are off meanwhile (a
    table rebuild drops the table other tables refer to)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] == 1:
            _back_up(path, path.with_name(path.name + ".v1-backup"))
            _migrate_v1(db)
        db.executescript(SCHEMA)
        for table, column, kind in ADDED_COLUMNS:
            if column not in db[table].columns_dict:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise


def _back_up(path: Path, backup: Path) -> None:
    """A copy of the file as it was before migrating, written whole or not at all (a temporary file
    renamed); an existing backup is kept. Read through a connection of its own: the migrating one
    holds the write lock, which readers pass and the backup API on that connection does not."""
    if backup.exists():
        return
    partial = backup.with_name(backup.name + ".partial")
    partial.unlink(missing_ok=True)
    source, target = sqlite3.connect(path), sqlite3.connect(partial)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    os.replace(partial, backup)


def _migrate_v1(db: sqlite_utils.Database) -> None:
    """Version 1 named the grounded flow's two judges in columns; version 2 keeps a pair's judges as
    a list (any flow), lets `context` be empty and records each request's model."""
    if "undoes" not in db["verdicts"].columns_dict:  # added within schema 1
        db.execute("ALTER TABLE verdicts ADD COLUMN undoes INTEGER")
    db.execute("ALTER TABLE requests ADD COLUMN model TEXT")
    db.execute("UPDATE requests SET model = json_extract(params, '$.model')")
    db.execute("ALTER TABLE pairs ADD COLUMN scores TEXT")
    for run_id, flow_json in db.execute("SELECT id, flow FROM runs").fetchall():
        judges = _v1_judges(flow_json)[:2]
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


def _v1_judges(flow_json: str) -> list[tuple[str, str]]:
    """(name, label) of the judge blocks of a flow a schema-1 run stored, in flow order.

    Schema 1 predates flows as data: its flows are the one grounded flow, blocks with a `type`
    and no labels, so a judge is labelled as today's flow loader labels such a block (its name
    with spaces). Read here rather than through the pipeline's flow loader: the store does not
    depend on the layer above it.
    """
    try:
        flow = json.loads(flow_json)
    except (TypeError, ValueError):
        return []
    blocks = flow.get("blocks") if isinstance(flow, dict) else None
    return [(block["name"], str(block.get("label") or block["name"].replace("_", " ")))
            for block in blocks if isinstance(block, dict) and block.get("type") == "judge"
            and isinstance(block.get("name"), str)] if isinstance(blocks, list) else []


def _open_read_only(path: Path) -> sqlite_utils.Database:
    conn = read_only_connection(path)
    conn.execute("PRAGMA query_only=ON")
    return sqlite_utils.Database(conn)


def is_read_only(db: sqlite_utils.Database) -> bool:
    """Whether this database was opened read-only (a file lab-tui may read, review and export, not change)."""
    return bool(db.execute("PRAGMA query_only").fetchone()[0])
