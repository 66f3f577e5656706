"""Whether a database file may be used, found by reading it only: before lab-tui writes a byte.

Kept apart from `db` (and sqlite-utils) so the app can check its database before it starts,
at the cost of the standard library's sqlite3 alone.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from lab_tui.errors import UserError

SCHEMA_VERSION = 2
"""The database schema this lab-tui writes (`db` creates and migrates to it); newer ones are refused."""


class DatabaseProblem(UserError):
    """A database lab-tui must not use as it is; the message says what the file is and what to do."""

    title = "Database not usable"


def check_db(path: Path) -> str:
    """"new", "writable" or "read-only"; a corrupt, foreign or newer-schema file raises `DatabaseProblem`.

    Only reads, so a file that is refused is never changed. A file we may write is read through
    an ordinary connection: a read-only one (`mode=ro`) beside live WAL writers can make their
    next statement fail with "disk I/O error".
    """
    if not path.exists():
        return "new"
    if path.is_dir():
        raise DatabaseProblem(f"{path} is a folder, not a database file: give --db a file path.")
    writable = _writable(path)
    try:
        conn = sqlite3.connect(path) if writable else read_only_connection(path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            raise DatabaseProblem(
                f"{path} is not a readable SQLite database (it is corrupt or not a database: {error}). "
                "Move it aside (lab-tui then starts an empty one) or restore it from a backup.") from error
        raise DatabaseProblem(f"{path} cannot be read: {error}.") from error
    if version > SCHEMA_VERSION:
        raise DatabaseProblem(
            f"{path} was written by a newer lab-tui (database schema {version}; this version reads up to "
            f"{SCHEMA_VERSION}). Upgrade lab-tui to use it; nothing was changed.")
    if version == 0 and tables and "runs" not in tables:
        raise DatabaseProblem(f"{path} is an SQLite database of another program (no lab-tui tables): "
                              "give --db a new or lab-tui file; nothing was changed.")
    if writable:
        return "writable"
    if version < SCHEMA_VERSION:
        raise DatabaseProblem(
            f"{path} has an older database schema ({version}) that lab-tui must upgrade, and it is read-only. "
            "Make it writable or copy it somewhere writable and pass --db.")
    return "read-only"


def _writable(path: Path) -> bool:
    """Whether we may change the file and create its -wal/-shm files beside it.

    Asked with access(2), never by opening the file: closing any descriptor of an SQLite file
    drops every POSIX lock this process holds on it, under the feet of its open connections.
    """
    effective = os.access in os.supports_effective_ids
    folder = path.resolve().parent
    return (not os.statvfs(folder).f_flag & os.ST_RDONLY
            and os.access(path, os.W_OK, effective_ids=effective)
            and os.access(folder, os.W_OK | os.X_OK, effective_ids=effective))


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. A WAL database in a folder we cannot write has no -shm file to
    share, so it is read as immutable (a snapshot) when the plain read-only open cannot read it."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        return sqlite3.connect(f"{uri}?immutable=1", uri=True)

