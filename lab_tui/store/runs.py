"""The engine's writes: runs, requests and rows, committed as they happen.

Every id is deterministic (a hash of what the thing is), so resuming a run writes the same ids
again and `INSERT OR IGNORE`/upserts never duplicate anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlite_utils

from lab_tui.store.queries import pid_alive


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def stable_id(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def create_run(db: sqlite_utils.Database, *, run_id: str, skill_path: str | None, skill_snapshot: dict,
               flow: dict, prompts_version: str, teacher: dict, params: dict, batch_id: str | None = None) -> None:
    db["runs"].insert({
        "id": run_id, "created_at": now(), "status": "running", "skill_path": skill_path, "batch_id": batch_id,
        "skill_snapshot": json.dumps(skill_snapshot), "flow": json.dumps(flow), "prompts_version": prompts_version,
        "teacher": json.dumps(teacher), "params": json.dumps(params), "pid": os.getpid(),
    })


@dataclass(frozen=True)
class Claim:
    """What `claim_run` found: the run's status and process before, and whether it is now this process's."""
    taken: bool
    status: str
    pid: int | None


def claim_run(db: sqlite_utils.Database, run_id: str) -> Claim | None:
    """Make the run this process's (status running, our pid) unless a live other process runs it,
    checked and set in one write transaction so two resumes started at once cannot both take it.
    None when there is no such run."""
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT status, pid FROM runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            return None
        status, pid = row
        if status == "running" and pid != os.getpid() and pid_alive(pid):
            return Claim(False, status, pid)
        db.execute("UPDATE runs SET status = 'running', pid = ? WHERE id = ?", [os.getpid(), run_id])
        return Claim(True, status, pid)
    finally:
        db.execute("COMMIT")


def release_run(db: sqlite_utils.Database, claim: Claim, run_id: str) -> None:
    """Give a claimed run back as it was (its set-up failed before anything was sent)."""
    with db.conn:
        db.execute("UPDATE runs SET status = ?, pid = ? WHERE id = ?", [claim.status, claim.pid, run_id])


def hand_over(db: sqlite_utils.Database, run_ids: list[str]) -> None:
    """Let another process (a batch's worker) claim these runs, made or left by this one: a run
    this process holds is left with no process, which `claim_run` lets anyone take."""
    with db.conn:
        db.conn.executemany("UPDATE runs SET pid = NULL WHERE id = ? AND pid = ?",
                            [(run_id, os.getpid()) for run_id in run_ids])


def mark_run(db: sqlite_utils.Database, run_id: str, status: str, *, error: str | None = None,
             report: dict | None = None) -> None:
    values = {"status": status, "error": error, "pid": os.getpid()}
    if status != "running":
        values["finished_at"] = now()
    if report is not None:
        values["report"] = json.dumps(report)
    db["runs"].update(run_id, values)


def stored_answer(db: sqlite_utils.Database, request_id: str) -> dict | None:
    row = db.conn.execute("SELECT response, finish_reason, tokens_in, tokens_out, latency_s, attempts FROM requests "
                          "WHERE id = ? AND response IS NOT NULL", [request_id]).fetchone()
    return dict(zip(_ANSWER, row)) if row else None


_ANSWER = ("response", "finish_reason", "tokens_in", "tokens_out", "latency_s", "attempts")

# The hot writes (a few per request) are plain statements on the connection, the same text each
# time so sqlite3 reuses them prepared: sqlite-utils' Table API re-reads the table's columns and
# the row before each write, which cost ~1.4 ms of CPU per request against ~0.25 ms so.

_BEGIN_REQUEST = ("INSERT OR IGNORE INTO requests (id, run_id, stage, model, messages, params, attempts, created_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, 0, ?)")
REQUEST_RESULTS = ("response", "finish_reason", "tokens_in", "tokens_out", "latency_s", "attempts", "error",
                   "answered_at", "endpoint")
"""The columns an answer (or a final error) fills in."""
ROW_COLUMNS = ("id", "run_id", "stage", "parent_id", "request_id", "seed_index", "data", "status", "reason", "score",
               "explanation", "ontask", "created_at")
PAIR_COLUMNS = ("id", "run_id", "seed_index", "context", "question", "response", "user_turn", "score", "scores",
                "outcome", "created_at", "ontask", "ontask_scores", "reason")
"""What the engine writes of a pair; review's columns (status, reviewer, edits, version...) keep their defaults."""
_RECORD_ROW = (f"INSERT INTO rows ({', '.join(ROW_COLUMNS)}) VALUES ({', '.join('?' * len(ROW_COLUMNS))}) "
               "ON CONFLICT(id) DO UPDATE SET " +
               ", ".join(f"{column} = excluded.{column}" for column in ROW_COLUMNS if column not in ("id", "created_at")))
_RECORD_PAIR = (f"INSERT INTO pairs ({', '.join(PAIR_COLUMNS)}) VALUES ({', '.join('?' * len(PAIR_COLUMNS))}) "
                "ON CONFLICT(id) DO UPDATE SET outcome = excluded.outcome")
_finish_statements: dict[tuple[str, ...], str] = {}


def _unknown(values: dict, columns: tuple[str, ...], table: str) -> None:
    unknown = values.keys() - set(columns)
    if unknown:
        raise TypeError(f"{table} has no column {', '.join(sorted(unknown))}")


def _json(value: object) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def begin_request(db: sqlite_utils.Database, *, id: str, run_id: str, stage: str, model: str, messages: list,
                  params: dict) -> None:
    """Record a request about to be sent (kept as it was if a resumed run sends it again)."""
    with db.conn:
        db.conn.execute(_BEGIN_REQUEST, (id, run_id, stage, model, json.dumps(messages), json.dumps(params), now()))


def finish_request(db: sqlite_utils.Database, request_id: str, **values) -> None:
    """Store the answer (or the final error), any of `REQUEST_RESULTS`; committed before the caller
    frees its slot."""
    names = tuple(values)
    statement = _finish_statements.get(names)
    if statement is None:
        _unknown(values, REQUEST_RESULTS, "requests")
        statement = _finish_statements[names] = (f"UPDATE requests SET {', '.join(f'{n} = ?' for n in names)} "
                                                 "WHERE id = ?")
    with db.conn:
        db.conn.execute(statement, (*values.values(), request_id))


def record_row(db: sqlite_utils.Database, **values) -> None:
    """Insert a row, or update it in place when a resumed run writes it again (it keeps its
    first `created_at`, so the order rows appeared in survives a resume). Every column of
    `ROW_COLUMNS` is written: one not given is NULL."""
    _unknown(values, ROW_COLUMNS, "rows")
    values["data"] = json.dumps(values.get("data") or {})
    values["created_at"] = now()
    with db.conn:
        db.conn.execute(_RECORD_ROW, [values.get(column) for column in ROW_COLUMNS])


def record_pair(db: sqlite_utils.Database, **values) -> None:
    """A pair is written once (every column of `PAIR_COLUMNS`; one not given is NULL); a resumed
    run updates only its outcome, and leaves verdicts already given untouched. `scores` and
    `ontask_scores` are JSON, given as text or as the value."""
    _unknown(values, PAIR_COLUMNS, "pairs")
    values.setdefault("created_at", now())
    values["scores"], values["ontask_scores"] = _json(values.get("scores")), _json(values.get("ontask_scores"))
    with db.conn:
        db.conn.execute(_RECORD_PAIR, [values.get(column) for column in PAIR_COLUMNS])


def save_progress(db: sqlite_utils.Database, run_id: str, progress: dict) -> None:
    """The run's latest progress, so another process follows it by reading one row."""
    with db.conn:
        db.execute("UPDATE runs SET progress = ? WHERE id = ?", [json.dumps(progress), run_id])
