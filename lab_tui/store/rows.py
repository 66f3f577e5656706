"""Read-side questions about a run's rows and requests, for the engine, the report, preview, the
Run pane and the CLI: the one place their SQL lives."""

from __future__ import annotations

import hashlib
import json

import sqlite_utils


def json_dict(text: str | None) -> dict:
    """A JSON column holding an object, as a dict; empty when the column is empty, not JSON, or not
    an object (a row written by another version, or damaged, never stops a reader)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _row_dicts(cursor) -> list[dict]:
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def run_row(db: sqlite_utils.Database, run_id: str) -> dict | None:
    rows = _row_dicts(db.execute("SELECT * FROM runs WHERE id = ?", [run_id]))
    return rows[0] if rows else None


def has_requests(db: sqlite_utils.Database, run_id: str) -> bool:
    return db.execute("SELECT 1 FROM requests WHERE run_id = ? LIMIT 1", [run_id]).fetchone() is not None


def text_key(text: str) -> str:
    """What makes two outputs exact duplicates: the same text, surrounding white space aside."""
    return hashlib.sha256(text.strip().encode()).hexdigest()[:20]


def first_outputs(db: sqlite_utils.Database, run_id: str, stage: str, field: str) -> dict[str, str]:
    """`text_key` -> row id of every output a deduplicating block kept so far (a resume goes on
    dropping the same duplicates)."""
    owners: dict[str, str] = {}
    for row_id, value in db.execute(
            "SELECT id, json_extract(data, '$.' || ?) FROM rows WHERE run_id = ? AND stage = ? AND status = 'ok' "
            "ORDER BY created_at, rowid", [field, run_id, stage]):
        if isinstance(value, str):
            owners.setdefault(text_key(value), row_id)
    return owners


def distinct_outputs(db: sqlite_utils.Database, run_id: str, stage: str, field: str | None) -> int:
    if not field:
        return 0
    return db.execute("SELECT count(DISTINCT json_extract(data, '$.' || ?)) FROM rows "
                      "WHERE run_id = ? AND stage = ? AND status = 'ok'", [field, run_id, stage]).fetchone()[0]


def rows_of(db: sqlite_utils.Database, run_id: str) -> list[dict]:
    """Every row of a run in the order it was made."""
    return _row_dicts(db.execute("SELECT * FROM rows WHERE run_id = ? ORDER BY created_at, id", [run_id]))


def stage_counts(db: sqlite_utils.Database, run_id: str) -> list[tuple[str, str, str | None, int]]:
    """(stage, status, reason, count) for every group of a run's rows."""
    return db.execute("SELECT stage, status, reason, count(*) FROM rows WHERE run_id = ? "
                      "GROUP BY stage, status, reason", [run_id]).fetchall()


def score_counts(db: sqlite_utils.Database, run_id: str, stage: str) -> list[tuple[str, float | None, int]]:
    return db.execute("SELECT status, score, count(*) FROM rows WHERE run_id = ? AND stage = ? "
                      "GROUP BY status, score", [run_id, stage]).fetchall()


def outputs(db: sqlite_utils.Database, run_id: str, stage: str, field: str) -> list[str]:
    """The text a block wrote into `field`, for its rows that went on (ok or kept)."""
    texts = []
    for (data,) in db.execute("SELECT data FROM rows WHERE run_id = ? AND stage = ? AND status IN ('ok', 'kept') "
                              "ORDER BY created_at, rowid", [run_id, stage]):
        try:
            value = json.loads(data).get(field)
        except (ValueError, AttributeError):
            continue
        if isinstance(value, str) and value.strip():
            texts.append(value)
    return texts


def pair_outcomes(db: sqlite_utils.Database, run_id: str) -> dict[str, int]:
    return dict(db.execute("SELECT outcome, count(*) FROM pairs WHERE run_id = ? GROUP BY outcome",
                           [run_id]).fetchall())


def run_params(db: sqlite_utils.Database, run_id: str) -> dict:
    row = db.execute("SELECT params FROM runs WHERE id = ?", [run_id]).fetchone()
    return json_dict(row[0] if row else None)


def progress_counts(db: sqlite_utils.Database, run_id: str) -> dict:
    """What a run's progress display needs from the store, for runs of another process: row
    counts per stage and status, request counts and sums per stage, and the run's times, flow,
    parameters and number of seed examples (what its planned work is reckoned from)."""
    rows = db.execute("SELECT stage, status, count(*) FROM rows WHERE run_id = ? GROUP BY stage, status",
                      [run_id]).fetchall()
    requests = db.execute(
        "SELECT stage, sum(response IS NULL AND error IS NULL), sum(response IS NOT NULL), total(tokens_in), "
        "total(tokens_out), total(latency_s) FROM requests WHERE run_id = ? GROUP BY stage", [run_id]).fetchall()
    times = db.execute("SELECT created_at, finished_at, status, flow, params, "
                       "json_array_length(skill_snapshot, '$.examples') FROM runs WHERE id = ?", [run_id]).fetchone()
    return {"rows": rows, "requests": requests, "times": times}


def run_progress(db: sqlite_utils.Database, run_id: str) -> tuple[str | None, str] | None:
    """(the saved progress JSON, the run's status)."""
    return db.execute("SELECT progress, status FROM runs WHERE id = ?", [run_id]).fetchone()


def batch_runs(db: sqlite_utils.Database, batch_id: str) -> list[dict]:
    """The runs of a batch, in the order they were started."""
    return _row_dicts(db.execute("SELECT id, status, skill_path, pid FROM runs WHERE batch_id = ? "
                                 "ORDER BY created_at, rowid", [batch_id]))
