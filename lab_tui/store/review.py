"""Verdicts and the review queue: what several reviewers on one database need to never collide.

A reviewer is shown one pending pair at a time. Showing it *claims* it for the reviewer's
`Session` (claimed_by/claimed_at, set inside BEGIN IMMEDIATE so two processes cannot claim the
same pair): every other session's queue skips pairs whose claim is younger than `LEASE_S`. A live
session renews its claim every `RENEW_EVERY_S` (`renew`), so a claim ends soon after its session
does (an SSH connection dropped, a process killed): a short lease, not a ten-minute one, and
`next_release` tells an empty queue when to look again. A claim belongs to a session, never to a
name: two people who both call themselves "root" still get different pairs; the name is only the
label stored with verdicts.
Every verdict bumps pairs.version and only applies if the version is the one the reviewer saw
(optimistic locking): a verdict made meanwhile by someone else raises `VerdictConflict` instead
of being overwritten. Every verdict is appended to `verdicts`; undo is a new verdict restoring
the state before the undone one, so the history keeps both.

Pairs are read one at a time by rowid (keyset paging), never all at once: a queue of 100,000
pairs opens as fast as a queue of ten.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
import time
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Iterator

import sqlite_utils

from lab_tui.errors import UserError
from lab_tui.store.db import is_read_only
from lab_tui.store.queries import REVIEW_STATUSES
from lab_tui.store.runs import now

LEASE_S = 30.0
"""A claim not renewed for this long is free: its session is gone (or asleep long enough to lose it)."""
RENEW_EVERY_S = 5.0
"""How often a live session renews its claim: six chances within a lease, so a busy moment never loses it."""
LOCK_WAIT_S = 300.0
"""How long a verdict keeps retrying against a database another process holds locked (each try waits
for the connection's busy timeout first)."""


REJECT_REASONS = {
    "off-task": "not the skill's task",
    "wrong": "a wrong or made-up answer",
    "incomplete": "the answer stops short",
    "format": "not in the form the skill asks for",
    "duplicate": "says what another pair says",
    "unsafe": "harmful or not fit to train on",
}
"""The reject reason codes, so the report, the Seeds pane and `compare` can count why pairs were rejected."""
ORDERS = {"queue": "in the order the run made them", "risk": "riskiest first: least on-task, judges disagreeing, "
                                                              "lowest score"}
"""The orders a review queue can walk in."""


class VerdictConflict(UserError):
    """The pair changed since it was shown (another reviewer's verdict): nothing was written."""

    title = "Verdict not saved"

    def __init__(self, pair_id: str, reviewer: str | None, status: str):
        by = f" by {reviewer}" if reviewer else ""
        super().__init__(f"pair {pair_id} was changed meanwhile{by} (now {status})")
        self.pair_id = pair_id


class ReadOnlyReview(VerdictConflict):
    """The database is read-only: pairs can be read and exported, verdicts are not saved."""

    def __init__(self, pair_id: str):
        Exception.__init__(self, "this database is read-only: the verdict was not saved (make the file writable "
                                 "to review, or export what is there)")
        self.pair_id = pair_id


@dataclass(frozen=True)
class Session:
    """One reviewer's sitting: `id` owns claims, `name` labels verdicts (several sessions may share it)."""

    name: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


def login_name() -> str:
    """The account's login name, the reviewer label when none is given."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER variable and no passwd entry (some containers)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class ReviewFilter:
    """Which pairs the queue walks; None means any."""

    run_id: str | None = None
    outcome: str | None = "kept"
    status: str | None = "pending"
    min_score: float | None = None
    max_score: float | None = None
    reviewer: str | None = None
    search: str | None = None
    batch_id: str | None = None
    skill: str | None = None
    """Part of the skill's path (its folder name, e.g. "inclusion")."""
    seed_index: int | None = None
    """The seed example the pairs came from (0-based, as stored; shown 1-based, as the Seeds pane numbers them)."""
    max_ontask: float | None = None
    """Only pairs whose on-task score (their least on-task text's) is below this."""
    order: str = "queue"
    """A name of `ORDERS`."""

    def where(self) -> tuple[str, list]:
        clauses: list[str] = []
        params: list = []
        for column, value in (("run_id", self.run_id), ("outcome", self.outcome), ("status", self.status),
                              ("reviewer", self.reviewer)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.seed_index is not None:
            clauses.append("seed_index = ?")
            params.append(self.seed_index)
        if self.min_score is not None:
            clauses.append("score >= ?")
            params.append(self.min_score)
        if self.max_score is not None:
            clauses.append("score <= ?")
            params.append(self.max_score)
        if self.max_ontask is not None:
            clauses.append("ontask < ?")
            params.append(self.max_ontask)
        if self.batch_id:
            clauses.append("run_id IN (SELECT id FROM runs WHERE batch_id = ?)")
            params.append(self.batch_id)
        if self.skill:
            clauses.append("run_id IN (SELECT id FROM runs WHERE skill_path LIKE ? ESCAPE '\\')")
            params.append("%" + _like(self.skill) + "%")
        if self.search:
            pattern = "%" + _like(self.search) + "%"
            clauses.append("(question LIKE ? ESCAPE '\\' OR response LIKE ? ESCAPE '\\' "
                           "OR edited_question LIKE ? ESCAPE '\\' OR edited_response LIKE ? ESCAPE '\\')")
            params.extend([pattern] * 4)
        return " AND ".join(clauses) or "1", params

    def describe(self) -> str:
        """The filter in a few words ("run X · kept · pending · \"wing\""), short enough for one line."""
        parts = [text for value, text in (
            (self.run_id, f"run {self.run_id}"), (self.outcome, self.outcome), (self.status, self.status),
            (self.reviewer, f"by {self.reviewer}"), (self.min_score, f"score ≥ {self.min_score}"),
            (self.max_score, f"score ≤ {self.max_score}"), (self.search, f'"{self.search}"'),
            (self.batch_id, f"batch {self.batch_id}"), (self.skill, f"skill {self.skill}"),
            (self.seed_index, f"seed example {(self.seed_index or 0) + 1}"),
            (self.max_ontask, f"on-task < {self.max_ontask}"), (self.order if self.order != "queue" else None, f"{self.order} first"))
            if value not in (None, "")]
        return " · ".join(parts) or "all pairs"


def _like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@contextmanager
def _immediate(db: sqlite_utils.Database) -> Iterator[None]:
    """A write transaction that takes the lock up front, so read-then-write is atomic across processes."""
    if db.conn.in_transaction:
        db.conn.commit()
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:  # another process holding the lock longer than the busy timeout: keep the verdict, try again
        try:
            db.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:  # SQLite already rolled back after some errors (a full disk): keep that error
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _row(db: sqlite_utils.Database, sql: str, params: list) -> dict | None:
    cursor = db.execute(sql, params)
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row)) if row else None


def get_pair(db: sqlite_utils.Database, pair_id: str) -> dict | None:
    return _row(db, "SELECT rowid AS position, * FROM pairs WHERE id = ?", [pair_id])


_RISK_DISAGREEMENT = (
    "coalesce((SELECT max(n) - min(n) FROM (SELECT json_extract(j.value, '$.score') / t.top AS n "
    "FROM json_each(pairs.scores) AS j JOIN temp.review_risk_tops AS t ON t.judge = json_extract(j.value, '$.judge') "
    "WHERE t.top > 0)), 0)")
"""How far apart a pair's judges are, each score as a share of its judge's top score (0: they agree), so
judges scoring 0-1 and 1-3 compare."""


def _risk_keys(db: sqlite_utils.Database) -> None:
    """See `_key_risks`; on a read-only database too, whose connection refuses every write, even to its
    own temporary tables, until told otherwise for the moment they are filled."""
    read_only = is_read_only(db)
    if read_only:
        db.execute("PRAGMA query_only=OFF")
    try:
        _key_risks(db)
    finally:
        if read_only:
            db.execute("PRAGMA query_only=ON")


def _key_risks(db: sqlite_utils.Database) -> None:
    """Bring this connection's table of risk keys up to date (a temporary table: nothing is written to
    the database). Sorting 100,000 pairs by their judges' JSON took 1.4 s a key; keyed once, a step is
    an index walk. A pair's scores never change once recorded, so only pairs added since are keyed,
    unless a judge's top score moved (then every pair again, as its scale did)."""
    outside = not db.conn.in_transaction
    db.execute("CREATE TEMP TABLE IF NOT EXISTS review_risk (position INTEGER PRIMARY KEY, ontask REAL, "
               "disagreement REAL, score REAL)")
    db.execute("CREATE INDEX IF NOT EXISTS temp.review_risk_order ON review_risk (ontask, disagreement, score, position)")
    db.execute("CREATE TEMP TABLE IF NOT EXISTS review_risk_tops (judge TEXT PRIMARY KEY, top REAL)")
    last = db.execute("SELECT coalesce(max(position), 0) FROM temp.review_risk").fetchone()[0]
    if (db.execute("SELECT coalesce(max(rowid), 0) FROM pairs").fetchone()[0]) <= last:
        return
    tops = dict(db.execute("SELECT judge, top FROM temp.review_risk_tops").fetchall())
    new = db.execute("SELECT json_extract(j.value, '$.judge'), max(json_extract(j.value, '$.score')) "
                     "FROM pairs, json_each(pairs.scores) AS j WHERE pairs.rowid > ? GROUP BY 1", [last]).fetchall()
    if any(judge in tops and top is not None and top > (tops[judge] or 0) for judge, top in new):
        db.execute("DELETE FROM temp.review_risk")
        last = 0
    db.conn.executemany("INSERT INTO temp.review_risk_tops (judge, top) VALUES (?, ?) ON CONFLICT (judge) "
                   "DO UPDATE SET top = max(coalesce(top, excluded.top), coalesce(excluded.top, top))", new)
    # unscored pairs after scored ones; the most disagreeing first
    db.execute(f"INSERT INTO temp.review_risk SELECT rowid, coalesce(ontask, 2.0), -{_RISK_DISAGREEMENT}, "
               "coalesce(score, 1e308) FROM pairs WHERE rowid > ?", [last])
    if outside and db.conn.in_transaction:  # never leave a read open: it would keep this connection's view old
        db.conn.commit()


@dataclass(frozen=True)
class _Walk:
    """How an order is walked: the tables (the first one drives), the sort keys (the pair's rowid last, so
    every pair has one place), and where a pair's keys are read by its rowid."""

    tables: str
    keys: tuple[str, ...]
    keyed: str

    def beyond(self, after: int, backwards: bool) -> tuple[str, list]:
        """The pairs after (or before) the pair at rowid `after`; all for 0."""
        if not after:
            return "1", []
        columns = ", ".join(self.keys)
        return f"({columns}) {'<' if backwards else '>'} (SELECT {columns} FROM {self.keyed})", [after]


def _walk(db: sqlite_utils.Database, order: str) -> _Walk:
    if order == "queue":
        return _Walk("pairs", ("pairs.rowid",), "pairs WHERE pairs.rowid = ?")
    if order == "risk":
        _risk_keys(db)
        # CROSS JOIN: the keys' index drives, so a step reads the next few keys, not every pair then a sort
        return _Walk("temp.review_risk AS risk INDEXED BY review_risk_order CROSS JOIN pairs ON pairs.rowid = risk.position",
                     ("risk.ontask", "risk.disagreement", "risk.score", "risk.position"),
                     "temp.review_risk AS risk WHERE risk.position = ?")
    raise ValueError(f"unknown order {order!r}: choose one of {', '.join(ORDERS)}")


def next_pair(db: sqlite_utils.Database, session: Session, where: ReviewFilter, after: int = 0,
              lease_s: float | None = None, wrap: bool = True, backwards: bool = False) -> dict | None:
    """The first pair after the pair at rowid `after` (in the filter's order) that matches, claiming it for
    `session` if it is pending; `backwards`, the last one before it.

    Pending pairs claimed by someone else within the lease (`LEASE_S`) are passed over. Wraps round
    once when nothing follows `after`.
    """
    lease_s = LEASE_S if lease_s is None else lease_s
    clause, params = where.where()
    direction = " DESC" if backwards else ""
    stamp = time.time()

    def first(start: int) -> dict | None:
        beyond, cursor = walk.beyond(start, backwards)
        return _row(db, f"SELECT pairs.rowid AS position, pairs.* FROM {walk.tables} WHERE {beyond} AND {clause} "
                        "AND (status != 'pending' OR claimed_by IS NULL OR claimed_by = ? OR claimed_at < ?) "
                        f"ORDER BY {', '.join(key + direction for key in walk.keys)} LIMIT 1",
                    [*cursor, *params, session.id, stamp - lease_s])

    read_only = is_read_only(db)  # nobody can decide on it, so nothing to claim
    with nullcontext() if read_only else _immediate(db):
        walk = _walk(db, where.order)
        pair = first(after)
        if pair is None and wrap and after:
            pair = first(0)
        if pair is not None and pair["status"] == "pending" and not read_only:
            db.execute("UPDATE pairs SET claimed_by = ?, claimed_at = ? WHERE id = ?", [session.id, stamp, pair["id"]])
            pair["claimed_by"], pair["claimed_at"] = session.id, stamp
    return pair


def place(db: sqlite_utils.Database, where: ReviewFilter, position: int) -> tuple[int, int] | None:
    """Where the pair at rowid `position` stands in the filter's order: (n, N) for "pair n of N"; None
    for a pair the filter does not hold (one decided since, or gone back to from the recent decisions)."""
    clause, params = where.where()
    if db.execute(f"SELECT 1 FROM pairs WHERE rowid = ? AND {clause}", [position, *params]).fetchone() is None:
        return None
    walk = _walk(db, where.order)
    before, cursor = walk.beyond(position, backwards=True)
    total = db.execute(f"SELECT count(*) FROM pairs WHERE {clause}", params).fetchone()[0]
    ahead = db.execute(f"SELECT count(*) FROM {walk.tables} WHERE {before} AND {clause}",
                       [*cursor, *params]).fetchone()[0]
    return ahead + 1, total


def claimed_elsewhere(db: sqlite_utils.Database, session: Session, where: ReviewFilter) -> int:
    """How many pending pairs of the queue other live sessions hold (what an empty queue is waiting for)."""
    clause, params = where.where()
    return db.execute(f"SELECT count(*) FROM pairs WHERE {clause} AND status = 'pending' AND claimed_by != ? "
                      "AND claimed_at >= ?", [*params, session.id, time.time() - LEASE_S]).fetchone()[0]


def renew(db: sqlite_utils.Database, pair_id: str, session: Session) -> bool:
    """Keep the session's claim on a pending pair alive (or take it again if it lapsed and nobody else
    took it); False when another live session holds it now."""
    if is_read_only(db):
        return True  # nobody can decide on it, so nothing is claimed
    with _immediate(db):
        stamp = time.time()
        return db.execute(
            "UPDATE pairs SET claimed_by = ?, claimed_at = ? WHERE id = ? AND status = 'pending' "
            "AND (claimed_by IS NULL OR claimed_by = ? OR claimed_at < ?)",
            [session.id, stamp, pair_id, session.id, stamp - LEASE_S]).rowcount > 0


def next_release(db: sqlite_utils.Database, session: Session, where: ReviewFilter) -> float | None:
    """When (epoch seconds) the first claim another session holds on a pending pair of this queue
    lapses unless renewed: an empty queue looks again then, as nothing is committed when a claim lapses."""
    clause, params = where.where()
    oldest = db.execute(f"SELECT min(claimed_at) FROM pairs WHERE {clause} AND status = 'pending' "
                        "AND claimed_by IS NOT NULL AND claimed_by != ?", [*params, session.id]).fetchone()[0]
    return None if oldest is None else oldest + LEASE_S


def release(db: sqlite_utils.Database, pair_id: str, session: Session) -> None:
    """Give a claim back (the reviewer moved on without deciding)."""
    if is_read_only(db):
        return
    with _immediate(db):
        db.execute("UPDATE pairs SET claimed_by = NULL, claimed_at = NULL WHERE id = ? AND claimed_by = ?",
                   [pair_id, session.id])


def _apply(db: sqlite_utils.Database, pair_id: str, reviewer: str, expected_version: int, state: dict,
           undoes: int | None = None) -> int:
    current = get_pair(db, pair_id)
    if current is None:
        raise LookupError(f"no pair {pair_id}")
    if current["version"] != expected_version:
        raise VerdictConflict(pair_id, current["reviewer"], current["status"])
    db.execute(
        "UPDATE pairs SET status = ?, reviewer = ?, edited_question = ?, edited_response = ?, note = ?, reason = ?, "
        "version = version + 1, claimed_by = CASE WHEN ? = 'pending' THEN claimed_by END, "
        "claimed_at = CASE WHEN ? = 'pending' THEN claimed_at END WHERE id = ? AND version = ?",
        [state["status"], reviewer, state["edited_question"], state["edited_response"], state["note"],
         state["reason"], state["status"], state["status"], pair_id, expected_version])
    db.execute(
        "INSERT INTO verdicts (pair_id, reviewer, status, previous_status, edited_question, edited_response, note, "
        "reason, created_at, undoes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [pair_id, reviewer, state["status"], current["status"], state["edited_question"], state["edited_response"],
         state["note"], state["reason"], now(), undoes])
    return expected_version + 1


def _state(current: dict, status: str, reason: str | None, edits: dict, keep_edits: bool) -> dict:
    """The pair's state after a verdict: edits and note not given kept (`keep_edits`), and a reason
    only on a rejection (a rejected pair's reason kept when only its note changes)."""
    if reason is not None and reason not in REJECT_REASONS:
        raise ValueError(f"unknown reason {reason!r}: choose one of {', '.join(REJECT_REASONS)}")
    if status != "rejected":
        reason = None
    elif reason is None and current.get("status") == "rejected":
        reason = current.get("reason")
    state = {name: value if value is not None or not keep_edits else current.get(name)
             for name, value in edits.items()}
    return {"status": status, "reason": reason, **state}


def record_verdict(db: sqlite_utils.Database, pair_id: str, session: Session, status: str, expected_version: int, *,
                   edited_question: str | None = None, edited_response: str | None = None,
                   note: str | None = None, reason: str | None = None, keep_edits: bool = True) -> int:
    """Commit a verdict now; returns the pair's new version. Raises VerdictConflict if it moved on.

    Edits and note not given are kept from the pair as it is (`keep_edits`), so a note added
    before accepting is not lost by the accept. `reason` is a code of `REJECT_REASONS`, for a rejection.
    """
    if status not in REVIEW_STATUSES:
        raise ValueError(f"unknown verdict {status!r}")
    if is_read_only(db):
        raise ReadOnlyReview(pair_id)
    with _immediate(db):
        state = _state(get_pair(db, pair_id) or {}, status, reason, {
            "edited_question": edited_question, "edited_response": edited_response, "note": note}, keep_edits)
        return _apply(db, pair_id, session.name, expected_version, state)


def _undo(db: sqlite_utils.Database, pair_id: str, session: Session, expected_version: int) -> int:
    stack: list[tuple[int | None, dict]] = [(None, {"status": "pending", "edited_question": None,
                                                    "edited_response": None, "note": None, "reason": None})]
    for verdict_id, status, question, response, note, reason, undoes in db.execute(
            "SELECT id, status, edited_question, edited_response, note, reason, undoes FROM verdicts "
            "WHERE pair_id = ? ORDER BY id", [pair_id]):
        if undoes is not None and len(stack) > 1:
            stack.pop()
        elif undoes is None:
            stack.append((verdict_id, {"status": status, "edited_question": question,
                                       "edited_response": response, "note": note, "reason": reason}))
    if len(stack) < 2:
        raise LookupError(f"pair {pair_id} has no verdict to undo")
    state = stack[-2][1]
    version = _apply(db, pair_id, session.name, expected_version, state, undoes=stack[-1][0])
    if state["status"] == "pending":
        db.execute("UPDATE pairs SET claimed_by = ?, claimed_at = ? WHERE id = ?",
                   [session.id, time.time(), pair_id])
    return version


def undo(db: sqlite_utils.Database, pair_id: str, session: Session, expected_version: int) -> int:
    """Restore the state before the pair's latest verdict, as a new verdict; returns the new version.

    The restored pair is claimed by `session` again when it goes back to pending, so the
    reviewer who undid it is the one who sees it next.
    """
    if is_read_only(db):
        raise ReadOnlyReview(pair_id)
    with _immediate(db):
        return _undo(db, pair_id, session, expected_version)


def _bulk(where: ReviewFilter, session: Session) -> tuple[str, list]:
    """A bulk action's pairs: the filter's pending pairs that no other live session holds."""
    clause, params = where.where()
    return (f"{clause} AND status = 'pending' AND (claimed_by IS NULL OR claimed_by = ? OR claimed_at < ?)",
            [*params, session.id, time.time() - LEASE_S])


def bulk_count(db: sqlite_utils.Database, session: Session, where: ReviewFilter) -> int:
    """How many pairs `bulk_verdict` would decide now (the count a reviewer confirms)."""
    clause, params = _bulk(where, session)
    return db.execute(f"SELECT count(*) FROM pairs WHERE {clause}", params).fetchone()[0]


def bulk_verdict(db: sqlite_utils.Database, session: Session, where: ReviewFilter, status: str, *,
                 reason: str | None = None, note: str | None = None) -> list[tuple[str, int]]:
    """One verdict on every pair of the filter `bulk_count` counts, in one transaction (all or none);
    the (pair id, new version) of each, which `undo_bulk` takes back in one go."""
    if status not in REVIEW_STATUSES:
        raise ValueError(f"unknown verdict {status!r}")
    if is_read_only(db):
        raise ReadOnlyReview("(bulk)")
    with _immediate(db):
        clause, params = _bulk(where, session)
        decided = []
        for pair_id, version, current_note in db.execute(
                f"SELECT id, version, note FROM pairs WHERE {clause} ORDER BY rowid", params).fetchall():
            state = _state({}, status, reason, {"edited_question": None, "edited_response": None,
                                                "note": note if note is not None else current_note}, keep_edits=False)
            decided.append((pair_id, _apply(db, pair_id, session.name, version, state)))
        return decided


def undo_bulk(db: sqlite_utils.Database, session: Session, decided: list[tuple[str, int]]) -> tuple[int, int]:
    """Take a bulk action back in one transaction: (pairs restored, pairs left as another reviewer
    decided them since)."""
    if is_read_only(db):
        raise ReadOnlyReview("(bulk)")
    restored = 0
    with _immediate(db):
        for pair_id, version in decided:
            current = get_pair(db, pair_id)
            if current is not None and current["version"] == version:
                _undo(db, pair_id, session, version)
                db.execute("UPDATE pairs SET claimed_by = NULL, claimed_at = NULL WHERE id = ?", [pair_id])
                restored += 1
    return restored, len(decided) - restored


@dataclass(frozen=True)
class Decision:
    """A pair a reviewer decided, as it stands now: what "recent decisions" lists to go back to."""

    pair_id: str
    status: str
    reason: str | None
    question: str
    decided_at: str


def recent_decisions(db: sqlite_utils.Database, reviewer: str, limit: int = 20) -> list[Decision]:
    """The pairs `reviewer` decided last (newest first), each once, with its status now."""
    return [Decision(*row) for row in db.execute(
        "SELECT p.id, p.status, p.reason, coalesce(p.edited_question, p.question), v.created_at FROM verdicts AS v "
        "JOIN pairs AS p ON p.id = v.pair_id WHERE v.id IN (SELECT max(id) FROM verdicts WHERE reviewer = ? "
        "AND undoes IS NULL GROUP BY pair_id) ORDER BY v.id DESC LIMIT ?", [reviewer, limit])]


def counts(db: sqlite_utils.Database, where: ReviewFilter) -> dict[str, int]:
    """Pairs per status under the filter, ignoring its own status criterion (the counters' point)."""
    clause, params = ReviewFilter(**{**where.__dict__, "status": None}).where()
    result = dict.fromkeys(REVIEW_STATUSES, 0)
    for status, count in db.execute(f"SELECT status, count(*) FROM pairs WHERE {clause} GROUP BY status", params):
        result[status] = count
    return result


def decided_so_far(db: sqlite_utils.Database) -> tuple[int | None, int | None]:
    """What the counters depend on, read in O(1): the last verdict's id and the last pair's rowid.
    Claims (taken, renewed every few seconds, released) change neither, so another session's heartbeat
    never makes a reviewer count 100,000 pairs again (half a second each time)."""
    return (db.execute("SELECT max(id) FROM verdicts").fetchone()[0],
            db.execute("SELECT max(rowid) FROM pairs").fetchone()[0])


def changed_elsewhere(db: sqlite_utils.Database) -> int:
    """SQLite's data_version: it moves only when another connection commits, so polling it is free."""
    return db.execute("PRAGMA data_version").fetchone()[0]


def history(db: sqlite_utils.Database, pair_id: str) -> list[dict]:
    cursor = db.execute("SELECT * FROM verdicts WHERE pair_id = ? ORDER BY id", [pair_id])
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]
