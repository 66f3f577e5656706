"""Reviewed pairs as evidence about the judges that scored them: the SQL behind the agreement figures.

Every pair a reviewer accepted or rejected is one record: its judges' scores, its on-task score
and the verdict. `pipeline.evidence` turns the records into figures per judge; the store only
gathers them (it never imports the pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from lab_tui.store.queries import UnknownRunError


@dataclass(frozen=True)
class ReviewedPair:
    """One pair reviewers decided, with what its judges and the on-task score said of it."""

    run_id: str
    accepted: bool
    scores: str | None
    """The pair's JSON list of {judge, label, score, explanation}, as the engine stored it."""
    ontask: float | None


@dataclass(frozen=True)
class EvidenceRun:
    """A run the evidence comes from, with what it needs to know its judges and their keep rules."""

    id: str
    flow: str
    """The run's stored flow (JSON)."""
    params: str
    """The run's stored parameters (JSON): `--set` thresholds apply."""


def evidence_runs(db: sqlite_utils.Database, *, run_id: str | None = None,
                  skill_path: str | None = None) -> list[EvidenceRun]:
    """One run, or every run of a skill file, oldest first; raises UnknownRunError for an unknown run."""
    if (run_id is None) == (skill_path is None):
        raise ValueError("give a run id or a skill path, not both")
    if run_id is not None:
        rows = db.execute("SELECT id, flow, params FROM runs WHERE id = ?", [run_id]).fetchall()
        if not rows:
            raise UnknownRunError(run_id)
    else:
        rows = db.execute("SELECT id, flow, params FROM runs WHERE skill_path = ? ORDER BY created_at, rowid",
                          [skill_path]).fetchall()
    return [EvidenceRun(*row) for row in rows]


def reviewed_pairs(db: sqlite_utils.Database, run_ids: list[str]) -> list[ReviewedPair]:
    """Every pair of these runs reviewers accepted or rejected (skipped and pending ones say nothing)."""
    if not run_ids:
        return []
    marks = ", ".join("?" * len(run_ids))
    rows = db.execute(f"SELECT run_id, status = 'accepted', scores, ontask FROM pairs WHERE run_id IN ({marks}) "
                      "AND status IN ('accepted', 'rejected') ORDER BY rowid", run_ids).fetchall()
    return [ReviewedPair(run, bool(accepted), scores, ontask) for run, accepted, scores, ontask in rows]


def ontask_buckets(db: sqlite_utils.Database, run_id: str) -> list[tuple[str, int, int, float]]:
    """(stage, tenth, count, mean score) of a run's rows that carry an on-task score; the tenth is 0-9
    (a score of 1 counts in the top one)."""
    return db.execute(
        "SELECT stage, min(9, CAST(ontask * 10 AS INTEGER)) AS tenth, count(*), avg(ontask) FROM rows "
        "WHERE run_id = ? AND ontask IS NOT NULL AND status != 'failed' GROUP BY stage, tenth", [run_id]).fetchall()


def pair_ontask_buckets(db: sqlite_utils.Database, run_id: str) -> list[tuple[int, int, float]]:
    """(tenth, count, mean score) of a run's pairs' on-task scores (the least of their texts')."""
    return db.execute(
        "SELECT min(9, CAST(ontask * 10 AS INTEGER)) AS tenth, count(*), avg(ontask) FROM pairs "
        "WHERE run_id = ? AND ontask IS NOT NULL GROUP BY tenth", [run_id]).fetchall()


def least_ontask_pairs(db: sqlite_utils.Database, run_id: str, limit: int) -> list[dict]:
    """The run's pairs furthest from the seeds, least on-task first."""
    cursor = db.execute(
        "SELECT id, outcome, status, ontask, ontask_scores, context, question, response FROM pairs "
        "WHERE run_id = ? AND ontask IS NOT NULL ORDER BY ontask, rowid LIMIT ?", [run_id, limit])
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def marked_rows(db: sqlite_utils.Database, run_id: str, stage: str, mark: str) -> int:
    """How many of a stage's rows that went on have `mark` set in their data (e.g. "response.untagged")."""
    return db.execute("SELECT count(*) FROM rows WHERE run_id = ? AND stage = ? AND status != 'failed' "
                      "AND json_extract(data, '$.\"' || ? || '\"')", [run_id, stage, mark]).fetchone()[0]
