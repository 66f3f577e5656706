"""Corrupt, foreign, newer-schema and read-only databases: one clear message each, nothing written.

Read-only is real: the command runs without the capabilities that let root write anyone's files
(setpriv), or as the plain user it already is, on a file without write permission.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading

import pytest

from lab_tui.cli import main
from lab_tui.store import review
from lab_tui.store.db import SCHEMA_VERSION, check_db, open_db

NO_ROOT_POWERS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner",
                  "--inh-caps=-dac_override,-dac_read_search,-fowner"] if os.geteuid() == 0 else []
needs_permissions = pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"),
                                       reason="root without setpriv ignores file permissions")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lab_tui(*args, home):
    env = dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([*NO_ROOT_POWERS, sys.executable, "-m", "lab_tui", *args], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.fixture
def corrupt(tmp_path):
    path = tmp_path / "lab.db"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    return path


@pytest.fixture
def newer(tmp_path):
    path = tmp_path / "lab.db"
    open_db(path).conn.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    return path


@pytest.fixture
def foreign(tmp_path):
    path = tmp_path / "lab.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(("fixture", "words"), [("corrupt", "not a readable SQLite database"),
                                                ("newer", "written by a newer lab-tui"),
                                                ("foreign", "another program")])
@pytest.mark.parametrize("command", [["runs"], ["runs", "--format", "json"], ["report", "r1"],
                                     ["export", "--run", "r1", "-o", "-"]])
def test_a_database_lab_tui_must_not_use_is_one_message_and_exit_1(fixture, words, command, request, capsys):
    path = request.getfixturevalue(fixture)
    before = digest(path)
    assert main([*command, "--db", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and words in err and "Traceback" not in err and err.count("\n") == 1
    assert digest(path) == before


@needs_permissions
def test_a_read_only_database_is_read_and_exported_but_never_written(builder, tmp_path):
    builder.run("r1")
    builder.pair("r1", "p1", status="accepted")
    builder.db.conn.close()
    for name in os.listdir(tmp_path):
        os.chmod(tmp_path / name, 0o444)
    os.chmod(tmp_path, 0o555)
    try:
        before = digest(builder.path)
        listed = lab_tui("runs", "--format", "json", "--db", str(builder.path), home=tmp_path.parent / "ro-home")
        exported = lab_tui("export", "--run", "r1", "-o", "-", "--db", str(builder.path), home=tmp_path.parent / "ro-home")
    finally:
        os.chmod(tmp_path, 0o755)
    assert listed.returncode == 0, listed.stderr
    assert [run["id"] for run in json.loads(listed.stdout)] == ["r1"]
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 1
    assert digest(builder.path) == before


def test_check_db_says_new_writable_and_refuses_without_writing(tmp_path, corrupt):
    assert check_db(tmp_path / "none.db") == "new"
    open_db(tmp_path / "ok.db").conn.close()
    assert check_db(tmp_path / "ok.db") == "writable"
    folder = tmp_path / "folder.db"
    folder.mkdir()
    with pytest.raises(Exception, match="is a folder"):
        open_db(folder)


def test_a_verdict_meeting_a_locked_database_waits_and_is_kept(builder):
    builder.run("r1")
    builder.pair("r1", "p1")
    db = open_db(builder.path)
    db.execute("PRAGMA busy_timeout=50")  # the other process holds the lock far longer than one busy wait
    ana = review.Session("ana")
    pair = review.next_pair(db, ana, review.ReviewFilter())
    holder = sqlite3.connect(builder.path, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Timer(0.5, holder.commit)
    released.start()
    try:
        version = review.record_verdict(db, pair["id"], ana, "accepted", pair["version"])
    finally:
        released.join()
        holder.close()
    assert version == pair["version"] + 1
    assert review.get_pair(db, "p1")["status"] == "accepted"


def test_a_read_only_database_is_browsed_without_claims_and_refuses_verdicts(builder):
    from lab_tui.store.db import _open_read_only

    builder.run("r1")
    builder.pair("r1", "p1")
    db = _open_read_only(builder.path)
    ana = review.Session("ana")
    pair = review.next_pair(db, ana, review.ReviewFilter())
    assert pair["id"] == "p1" and pair["claimed_by"] is None
    with pytest.raises(review.VerdictConflict, match="read-only"):
        review.record_verdict(db, "p1", ana, "accepted", pair["version"])
    review.release(db, "p1", ana)
    assert review.get_pair(builder.db, "p1")["status"] == "pending"
