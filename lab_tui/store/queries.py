"""Read-side questions about runs and pairs, shared by the CLI, the report and the panes.

Nothing here writes: the engine and the review code own the writes. A run row whose status says
"running" may belong to a process that was killed, so its status as shown is worked out from its
pid (`display_status`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from lab_tui.errors import UserError
from lab_tui.store.db import open_db
from lab_tui.store.pairs import Pair

INTERRUPTED = "interrupted"
REVIEW_STATUSES = ("pending", "accepted", "rejected", "skipped")
OUTCOMES = ("kept", "filtered")


class UnknownRunError(UserError, LookupError):
    """No run has this id; the message says so in words a CLI can print as is."""

    title = "No such run"

    def __init__(self, run_id: str):
        super().__init__(f"no run with id {run_id!r} in this database (lab-tui runs lists them)")
        self.run_id = run_id


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this pid runs on this host (signal 0 checks without sending).

    A killed process stays a zombie until its parent reaps it, and signal 0 still finds a zombie,
    so on Linux its state in /proc decides.
    """
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def display_status(status: str, pid: int | None) -> str:
    """The run's status as a user should read it: a "running" run with no live process was interrupted."""
    if status == "running" and not pid_alive(pid):
        return INTERRUPTED
    return status


def _loads(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def skill_name(skill_path: str | None, skill_snapshot: str | dict | None) -> str:
    """A short name for a run's skill: the folder of a qna.yaml (the taxonomy convention), else the file stem."""
    if skill_path:
        path = Path(skill_path)
        if path.name == "qna.yaml" and path.parent.name:
            return path.parent.name
        return path.stem
    snapshot = skill_snapshot if isinstance(skill_snapshot, dict) else _loads(skill_snapshot)
    description = " ".join(str(snapshot.get("task_description") or "").split())
    return description[:40] or "?"


def _name_parts(skill_path: str) -> list[str]:
    """A skill file's path parts, nearest first, as `skill_name` starts them (a qna.yaml's folder)."""
    path = Path(skill_path)
    parts = list(reversed(path.parent.parts)) if path.name == "qna.yaml" and path.parent.name else [
        path.stem, *reversed(path.parent.parts)]
    return [part for part in parts if part not in ("/", "")] or [path.name]


def distinct_skill_names(skill_paths) -> dict[str, str]:
    """A short name per skill file that no other file in `skill_paths` shares: `skill_name`'s folder,
    with as many parent folders as it takes (`a/logical_reasoning` and `b/logical_reasoning`)."""
    paths = sorted({str(path) for path in skill_paths if path})
    parts = {path: _name_parts(path) for path in paths}
    depth = dict.fromkeys(paths, 1)
    while True:
        names = {path: "/".join(reversed(parts[path][:depth[path]])) for path in paths}
        seen: dict[str, list[str]] = {}
        for path, name in names.items():
            seen.setdefault(name, []).append(path)
        clashing = [path for group in seen.values() if len(group) > 1 for path in group
                    if depth[path] < len(parts[path])]
        if not clashing:
            return names
        for path in clashing:
            depth[path] += 1


def teacher_model(teacher: str | dict | None) -> str:
    """Only the model name of a run's teacher profile; nothing else of it leaves the store."""
    profile = teacher if isinstance(teacher, dict) else _loads(teacher)
    return str(profile.get("model") or "")


def get_run(db: sqlite_utils.Database, run_id: str) -> dict:
    """The run row as a dict, with `display_status` added; raises UnknownRunError."""
    cursor = db.execute("SELECT * FROM runs WHERE id = ?", [run_id])
    row = cursor.fetchone()
    if row is None:
        raise UnknownRunError(run_id)
    run = dict(zip([column[0] for column in cursor.description], row))
    run["display_status"] = display_status(run["status"], run["pid"])
    return run


_RUNS_SQL = """
SELECT r.id, r.created_at, r.finished_at, r.status, r.pid, r.skill_path, r.skill_snapshot, r.teacher, r.batch_id,
    (SELECT count(*) FROM pairs p WHERE p.run_id = r.id AND p.outcome = 'kept') AS pairs_kept,
    (SELECT count(*) FROM pairs p WHERE p.run_id = r.id AND p.status = 'accepted') AS accepted,
    (SELECT count(*) FROM rows w WHERE w.run_id = r.id AND w.status = 'failed') AS failed_rows
FROM runs r
ORDER BY r.created_at DESC, r.rowid DESC
"""


def list_runs(db: sqlite_utils.Database) -> list[dict]:
    """Every run, newest first, with its totals: pairs kept, pairs accepted, failed rows."""
    rows = db.execute(_RUNS_SQL).fetchall()
    names = distinct_skill_names(row[5] for row in rows)
    runs = []
    for (run_id, created, finished, status, pid, skill_path, snapshot, teacher, batch_id, kept, accepted,
         failed) in rows:
        runs.append(
            {
                "id": run_id,
                "created_at": created,
                "finished_at": finished,
                "status": status,
                "display_status": display_status(status, pid),
                "pid": pid,
                "skill": names[skill_path] if skill_path else skill_name(None, snapshot),
                "model": teacher_model(teacher),
                "pairs_kept": kept,
                "accepted": accepted,
                "failed_rows": failed,
                "batch_id": batch_id,
            }
        )
    return runs


_LAST_RUNS_SQL = """
SELECT r.skill_path, r.id, r.created_at, r.status, r.pid,
    (SELECT count(*) FROM pairs p WHERE p.run_id = r.id AND p.outcome = 'kept') AS kept,
    (SELECT count(*) FROM pairs p WHERE p.run_id = r.id AND p.outcome = 'kept'
        AND p.status IN ('accepted', 'rejected')) AS reviewed,
    (SELECT count(*) FROM pairs p WHERE p.run_id = r.id AND p.outcome = 'kept' AND p.status = 'accepted') AS accepted
FROM (SELECT *, row_number() OVER (PARTITION BY skill_path ORDER BY created_at DESC, rowid DESC) AS newest
      FROM runs WHERE skill_path IS NOT NULL) r
WHERE r.newest = 1
"""


def last_run_by_skill(db: sqlite_utils.Database) -> dict[str, dict]:
    """Each skill file's newest run, keyed by the path the run recorded, with its review progress:
    final pairs (`kept`), how many have a verdict (`reviewed`: accepted or rejected) and `accepted`."""
    return {
        skill_path: {"id": run_id, "created_at": created, "display_status": display_status(status, pid),
                     "kept": kept, "reviewed": reviewed, "accepted": accepted}
        for skill_path, run_id, created, status, pid, kept, reviewed, accepted in db.execute(_LAST_RUNS_SQL)
    }


def pair_counts(db: sqlite_utils.Database, run_id: str | None = None, outcome: str | None = "kept") -> dict[str, int]:
    """Pairs per review status (every status present, zero when none), for one run or all."""
    where, params = _pair_filter(run_id=run_id, outcome=outcome)
    counts = dict.fromkeys(REVIEW_STATUSES, 0)
    for status, count in db.execute(f"SELECT status, count(*) FROM pairs {where} GROUP BY status", params):
        counts[status] = count
    return counts


def _pair_filter(
    run_id: str | None = None,
    outcome: str | tuple[str, ...] | None = None,
    status: str | tuple[str, ...] | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
) -> tuple[str, list]:
    clauses: list[str] = []
    params: list = []
    if run_id is not None:
        clauses.append("run_id = ?")
        params.append(run_id)
    for column, value in (("outcome", outcome), ("status", status)):
        if value is None:
            continue
        values = (value,) if isinstance(value, str) else tuple(value)
        clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
        params.extend(values)
    if min_score is not None:
        clauses.append("score >= ?")
        params.append(min_score)
    if max_score is not None:
        clauses.append("score <= ?")
        params.append(max_score)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def pairs(
    db: sqlite_utils.Database,
    run_id: str | None = None,
    outcome: str | tuple[str, ...] | None = None,
    status: str | tuple[str, ...] | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Pair]:
    """Pairs matching every given filter (None = any), in the order the engine made them."""
    where, params = _pair_filter(run_id, outcome, status, min_score, max_score)
    sql = f"SELECT * FROM pairs {where} ORDER BY created_at, rowid"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    cursor = db.execute(sql, params)
    columns = [column[0] for column in cursor.description]
    return [Pair.from_row(dict(zip(columns, row))) for row in cursor.fetchall()]


@dataclass(frozen=True)
class StageHistory:
    """What past runs measured of one stage (block) of a flow: its rows' outcomes and its requests."""

    done: int
    kept: int
    filtered: int
    failed: int
    answered: int
    """Requests answered; the averages below are over them (None when there is none)."""
    tokens_in: float | None
    tokens_out: float | None
    latency_s: float | None


_STAGE_ROWS_SQL = """
SELECT w.stage, count(*), sum(w.status = 'kept'), sum(w.status = 'filtered'), sum(w.status = 'failed')
FROM rows w JOIN runs r ON r.id = w.run_id
WHERE json_extract(r.flow, '$.name') = ? AND (? IS NULL OR r.skill_path = ?)
GROUP BY w.stage
"""
_STAGE_REQUESTS_SQL = """
SELECT q.stage, count(*), avg(q.tokens_in), avg(q.tokens_out), avg(q.latency_s)
FROM requests q JOIN runs r ON r.id = q.run_id
WHERE json_extract(r.flow, '$.name') = ? AND (? IS NULL OR r.skill_path = ?) AND q.response IS NOT NULL
  AND (? IS NULL OR q.model = ?)
GROUP BY q.stage
"""


def stage_history(db: sqlite_utils.Database, flow_name: str, skill_path: str | None = None,
                  model: str | None = None) -> dict[str, StageHistory]:
    """Per stage of the runs of this flow (of this skill file only, with `skill_path`): rows done,
    kept, filtered and failed, and the answered requests' mean tokens and latency (of this model only,
    with `model`). What an estimate of the next run reads."""
    where = [flow_name, skill_path, skill_path]
    rows = {stage: counts for stage, *counts in db.execute(_STAGE_ROWS_SQL, where)}
    requests = {stage: figures for stage, *figures in db.execute(_STAGE_REQUESTS_SQL, where + [model, model])}
    return {stage: StageHistory(*(rows.get(stage) or (0, 0, 0, 0)), *(requests.get(stage) or (0, None, None, None)))
            for stage in {*rows, *requests}}


def run_stage_counts(db: sqlite_utils.Database, run_id: str) -> dict[str, dict[str, int]]:
    """Per stage of the run, in the order its rows were first made: rows done, kept, filtered, failed."""
    return {stage: {"done": done, "kept": kept, "filtered": filtered, "failed": failed}
            for stage, done, kept, filtered, failed in db.execute(
                "SELECT stage, count(*), sum(status = 'kept'), sum(status = 'filtered'), sum(status = 'failed') "
                "FROM rows WHERE run_id = ? GROUP BY stage ORDER BY min(rowid)", [run_id])}


def run_pair_scores(db: sqlite_utils.Database, run_id: str) -> list[dict]:
    """Each pair of the run as its scores see it: judges' scores (the stored JSON list, parsed), on-task
    score, outcome, review status and reject reason code."""
    pairs = []
    for scores, ontask, outcome, status, reason in db.execute(
            "SELECT scores, ontask, outcome, status, reason FROM pairs WHERE run_id = ? ORDER BY rowid", [run_id]):
        try:
            judges = json.loads(scores) if scores else []
        except ValueError:
            judges = []
        pairs.append({"judges": judges if isinstance(judges, list) else [], "ontask": ontask, "outcome": outcome,
                      "status": status, "reason": reason})
    return pairs


def previous_run_of_skill(db: sqlite_utils.Database, run_id: str) -> str | None:
    """The run of the same skill file made just before this one, or None (what a run is compared with)."""
    row = db.execute(
        "SELECT p.id FROM runs p JOIN runs r ON r.id = ? WHERE p.skill_path = r.skill_path "
        "AND (p.created_at, p.rowid) < (r.created_at, r.rowid) ORDER BY p.created_at DESC, p.rowid DESC LIMIT 1",
        [run_id]).fetchone()
    return row[0] if row else None


class ChangeWatch:
    """Whether another connection committed to the database since the last look, by SQLite's
    `PRAGMA data_version` on a connection kept for it: a read of a counter, no table touched, so a
    pane can ask every second and reload its lists only when a run (of any process) wrote."""

    def __init__(self, path: str | Path) -> None:
        self.db = open_db(path)
        self.version = self._read()

    def _read(self) -> int:
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def changed(self) -> bool:
        version = self._read()
        changed, self.version = version != self.version, version
        return changed


TOP_REASONS = 3
"""Reject reason codes and notes a seed example's yield names, commonest first."""


@dataclass(frozen=True)
class SeedYield:
    """What one seed example (by its 0-based index, as pairs store it) produced across a skill's runs."""

    seed_index: int
    made: int
    """Pairs made from it, kept by the judges or not."""
    kept: int
    """Pairs the judges kept (what review and export see)."""
    accepted: int
    rejected: int
    reasons: tuple[tuple[str, int], ...]
    """The commonest reject reason codes of its rejected pairs, with their counts."""
    notes: tuple[tuple[str, int], ...]
    """The commonest reviewers' notes on its rejected pairs, with their counts."""


_SEED_YIELD_SQL = """
SELECT p.seed_index, p.outcome, p.status, p.reason, p.note
FROM pairs p JOIN runs r ON r.id = p.run_id
WHERE r.skill_path IN (?, ?) AND p.seed_index IS NOT NULL
"""
_RUN_SEED_YIELD_SQL = """
SELECT seed_index, outcome, status, reason, note FROM pairs WHERE run_id = ? AND seed_index IS NOT NULL
"""


def seed_yields(db: sqlite_utils.Database, skill_path: str | Path) -> list[SeedYield]:
    """Per seed example, across every run of the skill file (as its runs recorded its path): pairs made,
    kept by the judges, accepted and rejected by reviewers, and the commonest reject reasons and notes.
    Seed examples that made nothing have no entry; indexes are those the runs saw (an edit since then
    can move an example)."""
    names = [str(skill_path), str(Path(skill_path).resolve())]  # a run records the path as it was given
    return _yields(db.execute(_SEED_YIELD_SQL, names))


def run_seed_yields(db: sqlite_utils.Database, run_id: str) -> list[SeedYield]:
    """`seed_yields` of one run (what `compare` sets side by side)."""
    return _yields(db.execute(_RUN_SEED_YIELD_SQL, [run_id]))


def _yields(rows) -> list[SeedYield]:
    made: Counter = Counter()
    counts: dict[tuple[int, str], int] = Counter()
    reasons: dict[int, Counter] = {}
    notes: dict[int, Counter] = {}
    for seed, outcome, status, reason, note in rows:
        made[seed] += 1
        counts[seed, outcome] += 1
        counts[seed, status] += 1
        if status == "rejected":
            if reason:
                reasons.setdefault(seed, Counter())[reason] += 1
            if note and note.strip():
                notes.setdefault(seed, Counter())[" ".join(note.split())] += 1
    return [SeedYield(seed, made[seed], counts[seed, "kept"], counts[seed, "accepted"], counts[seed, "rejected"],
                      tuple(reasons.get(seed, Counter()).most_common(TOP_REASONS)),
                      tuple(notes.get(seed, Counter()).most_common(TOP_REASONS)))
            for seed in sorted(made)]


def open_existing_db(path: str | Path) -> sqlite_utils.Database | None:
    """Open the database for reading, or None when the file does not exist.

    Read-only commands must not create an empty database at a mistyped path.
    """
    return open_db(path) if Path(path).is_file() else None
