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


def mark_run(db: sqlite_utils.Database, run_id: str, status: str, *, error: str | None = None,
             report: dict | None = None) -> None:
    values = {"status": status, "error": error, "pid": os.getpid()}
    if status != "running":
        values["finished_at"] = now()
    if report is not None:
        values["report"] = json.dumps(report)
    db["runs"].update(run_id, values)


def stored_answer(db: sqlite_utils.Database, request_id: str) -> dict | None:
    rows = list(db.query("SELECT * FROM requests WHERE id = ? AND response IS NOT NULL", [request_id]))
    return rows[0] if rows else None


def begin_request(db: sqlite_utils.Database, *, id: str, run_id: str, stage: str, model: str, messages: list,
                  params: dict) -> None:
    """Record a request about to be sent (kept as it was if a resumed run sends it again)."""
    with db.conn:
        db["requests"].insert({"id": id, "run_id": run_id, "stage": stage, "model": model,
                               "messages": json.dumps(messages),
                               "params": json.dumps(params), "attempts": 0, "created_at": now()}, ignore=True)


def finish_request(db: sqlite_utils.Database, request_id: str, **values) -> None:
    """Store the answer (or the final error); committed before the caller frees its slot."""
    with db.conn:
        db["requests"].update(request_id, values)


def record_row(db: sqlite_utils.Database, **values) -> None:
    """Insert a row, or update it in place when a resumed run writes it again (it keeps its
    first `created_at`, so the order rows appeared in survives a resume)."""
    values["data"] = json.dumps(values.get("data") or {})
    with db.conn:
        db["rows"].insert(dict(values, created_at=now()), pk="id", ignore=True)
        db["rows"].update(values["id"], values)


def record_pair(db: sqlite_utils.Database, **values) -> None:
    """A pair is written once; a resumed run leaves verdicts already given untouched."""
    values.setdefault("created_at", now())
    with db.conn:
        db["pairs"].insert(values, pk="id", ignore=True)
        db.execute("UPDATE pairs SET outcome = ? WHERE id = ?", [values["outcome"], values["id"]])


def save_progress(db: sqlite_utils.Database, run_id: str, progress: dict) -> None:
    """The run's latest progress, so another process follows it by reading one row."""
    with db.conn:
        db.execute("UPDATE runs SET progress = ? WHERE id = ?", [json.dumps(progress), run_id])
