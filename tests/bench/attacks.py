"""The attack set of issue 9 (hostile input, broken files, failing teachers), run against this checkout.

Each attack sets up its own home folder, does what an attacker or an unlucky user would, and
checks the promise: nothing lost, nothing leaked, nothing run on the terminal, a clear message
and the right exit code. Commands run as `python -m lab_tui` subprocesses, as a user would run
them; as root, attacks on file permissions drop the capabilities that let root ignore them
(setpriv). Attacks on the engine and `run` arguments are marked "(engine)".
Prints one line per attack and "N of M held"; exits 1 if any did not hold.
Usage: .venv/bin/python tests/bench/attacks.py [-k SUBSTRING]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hostile_server import (HostileServer, answer, drip, drip_headers, echo_headers, endless_chunks,  # noqa: E402
                            error_body, gzip_bomb, rate_limited)
from teacher_server import Fault, TeacherConfig, TeacherServer  # noqa: E402

from lab_tui.resources import example_skill_path  # noqa: E402

EXAMPLE = example_skill_path()
KEY = "sk-live-0123456789SECRETabcdef"
NO_ROOT_POWERS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                  "--inh-caps=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
ATTACKS = []


def attack(name: str):
    def register(function):
        ATTACKS.append((name, function))
        return function
    return register


def cli(home: Path, *args: str, tail: str = "", powers: bool = True, env: dict | None = None, timeout: float = 120):
    """Run `lab-tui ARGS` with its own LAB_TUI_HOME; `powers=False` runs without root's file powers."""
    command = [*([] if powers else NO_ROOT_POWERS), sys.executable, "-m", "lab_tui", *args]
    environment = dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=str(ROOT), **(env or {}))
    if tail:
        return subprocess.run(shlex.join(command) + tail, shell=True, capture_output=True, env=environment,
                              timeout=timeout)
    return subprocess.run(command, capture_output=True, env=environment, timeout=timeout)


def skill_copy(folder: Path, data: bytes | None = None) -> Path:
    path = folder / "qna.yaml"
    path.write_bytes(data if data is not None else EXAMPLE.read_bytes())
    return path


def escapes_in(data: bytes) -> bool:
    return any(byte in data for byte in (b"\x1b", b"\x07", b"\x9b", b"\xc2\x9b"))


# ----- 1. settings ---------------------------------------------------------------------------------

def _settings_survive(home: Path, text: str) -> bool:
    config = home / "config"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(text)
    script = "from lab_tui.config import load_settings; load_settings().set('recent', ['/x'])"
    subprocess.run([sys.executable, "-c", script], env=dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=str(ROOT)),
                   check=True)
    warned = cli(home, "lint", str(EXAMPLE))
    return (config / "settings.json").read_text() == text and b"settings.json" in warned.stderr


@attack("1 settings.json with a syntax error is not written over, and the CLI says so")
def settings_syntax(home):
    return _settings_survive(home, '{"teachers": {"big": {"model": "openai/x"}},, "theme": "lab-light"}')


@attack('1 settings.json with "teachers": [] is not written over')
def settings_teachers(home):
    return _settings_survive(home, '{"teachers": [], "keymap": {"seeds.save": "f9"}}')


@attack('1 settings.json with "recent": 5 is not written over')
def settings_recent(home):
    return _settings_survive(home, '{"recent": 5, "teachers": {"a": {}}}')


@attack("1 settings.json with a keymap value 5 is not written over")
def settings_keymap(home):
    return _settings_survive(home, '{"keymap": {"seeds.save": 5}, "teachers": {"a": {}}}')


# ----- 3-5. saving ---------------------------------------------------------------------------------

@attack("3 a second editor's save does not silently drop the first one's")
def two_editors(home):
    from lab_tui.seeds.io import FileChanged, load_skill, save_skill

    path = skill_copy(home)
    first, second = load_skill(path), load_skill(path)
    first.skill.task_description = "First editor."
    save_skill(first.skill, expected=first.stamp)
    second.skill.task_description = "Second editor."
    try:
        save_skill(second.skill, expected=second.stamp)
    except FileChanged:
        return "First editor." in path.read_text()
    return False


@attack("3 a change made on disk while the Seeds pane has the file open is not overwritten")
def pane_disk_change(home):
    return _pilot(home, "disk_change")


@attack("4 a save failing for lack of space keeps the previous .bak whole")
def full_disk_backup(home):
    path = skill_copy(home)
    backup = home / "qna.yaml.bak"
    backup.write_bytes(b"previous backup\n" * 20)
    script = textwrap.dedent(f"""
        import resource, signal
        from lab_tui.seeds.io import load_skill, save_skill
        loaded = load_skill({str(path)!r})
        loaded.skill.task_description = "x" * 100
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
        try:
            save_skill(loaded.skill, expected=loaded.stamp)
        except OSError:
            pass
    """)
    subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    return backup.read_bytes() == b"previous backup\n" * 20 and path.read_bytes() == EXAMPLE.read_bytes()


def _save(path: Path, edit: bool) -> None:
    from lab_tui.seeds.io import load_skill, save_skill

    loaded = load_skill(path)
    if edit:
        loaded.skill.examples[0].question = "An edited question?"
    save_skill(loaded.skill, expected=loaded.stamp)


@attack("5 a save keeps the skill file's mode (0644)")
def save_mode(home):
    path = skill_copy(home)
    path.chmod(0o644)
    _save(path, edit=True)
    return stat.S_IMODE(path.stat().st_mode) == 0o644


@attack("5 an unedited save keeps CRLF line endings byte for byte")
def crlf_unedited(home):
    crlf = EXAMPLE.read_bytes().replace(b"\n", b"\r\n")
    path = skill_copy(home, crlf)
    _save(path, edit=False)
    return path.read_bytes() == crlf


@attack("5 an edited save keeps CRLF line endings")
def crlf_edited(home):
    path = skill_copy(home, EXAMPLE.read_bytes().replace(b"\n", b"\r\n"))
    _save(path, edit=True)
    data = path.read_bytes()
    return b"An edited question?\r\n" in data and data.count(b"\n") == data.count(b"\r\n")


@attack("5 a save through a symlink updates its target and keeps the link")
def save_symlink(home):
    target = skill_copy(home)
    link = home / "link.yaml"
    link.symlink_to(target)
    _save(link, edit=True)
    return link.is_symlink() and b"An edited question?" in target.read_bytes()


@attack("5 an export through a symlink keeps the link and the target's mode")
def export_symlink(home):
    db = _db_with_a_pair(home)
    target = home / "out.jsonl"
    target.write_text("")
    target.chmod(0o644)
    link = home / "link.jsonl"
    link.symlink_to(target)
    done = cli(home, "export", "--run", "r1", "--status", "all", "-o", str(link), "--db", str(db))
    return (done.returncode == 0 and link.is_symlink() and target.read_text().count("\n") == 1
            and stat.S_IMODE(target.stat().st_mode) == 0o644)


@attack("5 settings.json keeps its mode when the app writes it")
def settings_mode(home):
    config = home / "config"
    config.mkdir()
    (config / "settings.json").write_text('{"theme": "lab-dark"}')
    (config / "settings.json").chmod(0o644)
    script = "from lab_tui.config import load_settings; load_settings().set('theme', 'lab-light')"
    subprocess.run([sys.executable, "-c", script], env=dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=str(ROOT)),
                   check=True)
    return stat.S_IMODE((config / "settings.json").stat().st_mode) == 0o644


# ----- 6-7. leaks and terminal control -----------------------------------------------------------

@attack("6 a teacher echoing the Authorization header: the key is nowhere (db, output, log)")
def key_echo(home):
    with TeacherServer(TeacherConfig(faults=[Fault("auth_echo", times=10_000)])) as server:
        env = {"LAB_TUI_ATTACK_KEY": KEY}
        common = ["--api-base", server.api_base, "--api-key-env", "LAB_TUI_ATTACK_KEY"]
        run = cli(home, "run", str(EXAMPLE), *common, "--contexts", "2", "--questions", "1", "--db",
                  str(home / "lab.db"), env=env)
        check = cli(home, "teacher", "check", *common, env=env)
    stored = sqlite3.connect(home / "lab.db")
    texts = "".join(row[0] or "" for row in stored.execute("SELECT error FROM requests UNION ALL SELECT reason FROM rows"))
    stored.close()
    log = home / "data" / "lab-tui.log"
    everything = run.stdout + run.stderr + check.stdout + check.stderr + texts.encode()
    everything += log.read_bytes() if log.exists() else b""
    return b"SECRET" not in everything and "Incorrect API key" in texts


@attack("7 lint text output prints no escape sequence from a file name or its text")
def lint_escapes(home):
    (home / "\x1b]0;pwned\x07\x1b[2J.yaml").write_bytes(b"not: [valid\n")
    done = cli(home, "lint", str(home))
    return done.returncode == 1 and b".yaml:2: error yaml/syntax" in done.stdout and not escapes_in(done.stdout)


@attack("7 runs prints no escape sequence from a stored skill path or model")
def runs_escapes(home):
    db = _db_with_a_pair(home, skill_path="/x/\x1b]52;c;eA==\x07/qna.yaml", model="openai/\x1b[2Jt")
    done = cli(home, "runs", "--db", str(db))
    return done.returncode == 0 and b"r1" in done.stdout and not escapes_in(done.stdout + done.stderr)


@attack("7 teacher check prints no escape sequence from a model name or error body")
def teacher_check_escapes(home):
    done = cli(home, "teacher", "check", "--api-base", "http://127.0.0.1:9/v1", "--model", "openai/\x1b]0;x\x07t")
    return done.returncode == 1 and not escapes_in(done.stdout + done.stderr)


@attack("7 lint --format json stays valid UTF-8 with non-UTF-8 file names")
def json_names(home):
    folder = os.fsencode(home / "skills")
    os.mkdir(folder)
    with open(os.path.join(folder, b"caf\xe9.yaml"), "wb") as handle:
        handle.write(EXAMPLE.read_bytes())
    done = cli(home, "lint", "--format", "json", os.fsdecode(folder))
    entries = json.loads(done.stdout.decode("utf-8"))
    return entries[0]["file"].endswith("caf\\xe9.yaml")


@attack("7 an OSC 52 sequence in a seed file never reaches the terminal from the Seeds pane")
def pane_osc52(home):
    return _pilot(home, "osc52")


# ----- 8-9, 11. resource exhaustion --------------------------------------------------------------

BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, n in zip("abcdefgh", "bcdefghi")) + "seed_examples: *i\n"


@attack("8 a 600-byte YAML alias bomb is a lint finding within a second")
def alias_bomb(home):
    (home / "bomb.yaml").write_text(BOMB)
    started = time.monotonic()
    done = cli(home, "lint", "--format", "json", str(home / "bomb.yaml"), timeout=60)
    return done.returncode == 1 and b"yaml/alias-bomb" in done.stdout and time.monotonic() - started < 5


@attack("9 10,000-deep nesting is a finding and the folder's other files are still linted")
def deep_nesting(home):
    (home / "deep.yaml").write_text("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    (home / "bomb.yaml").write_text(BOMB)
    skill_copy(home)
    done = cli(home, "lint", "--format", "json", str(home))
    found = {Path(e["file"]).name: [f["rule"] for f in e["findings"]] for e in json.loads(done.stdout)}
    return found == {"deep.yaml": ["yaml/too-deep"], "bomb.yaml": ["yaml/alias-bomb"], "qna.yaml": []}


@attack("9 the Seeds pane opens a 10,000-deep file without crashing")
def pane_deep(home):
    return _pilot(home, "deep")


# ----- 15. databases -------------------------------------------------------------------------------

def _db_with_a_pair(home: Path, skill_path: str = "/s/qna.yaml", model: str = "openai/t") -> Path:
    from lab_tui.store.db import open_db

    path = home / "lab.db"
    db = open_db(path)
    db["runs"].insert({"id": "r1", "created_at": "2026-11-25T08:00:00+00:00", "status": "completed",
                       "skill_path": skill_path, "skill_snapshot": "{}", "flow": "{}", "prompts_version": "p",
                       "teacher": json.dumps({"model": model}), "params": "{}"})
    columns = db["pairs"].columns_dict
    pair = {"id": "p1", "run_id": "r1", "context": "C", "question": "Q?", "response": "R.", "user_turn": "C\n\nQ?",
            "outcome": "kept", "status": "accepted", "created_at": "2026-11-25T08:00:01+00:00"}
    pair.update({k: v for k, v in {"score": 3.0, "scores": "[]", "pair_score": 3.0}.items() if k in columns})
    db["pairs"].insert(pair)
    db.conn.close()
    return path


def _refused(home: Path, make) -> bool:
    path = home / "lab.db"
    make(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    results = [cli(home, *command, "--db", str(path)) for command in (["runs"], ["export", "--run", "r1", "-o", "-"])]
    return (all(r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"Traceback" not in r.stderr for r in results)
            and hashlib.sha256(path.read_bytes()).hexdigest() == before)


@attack("15 a corrupt database: one message, exit 1, file untouched")
def db_corrupt(home):
    return _refused(home, lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xa5" * 8192))


@attack("15 a newer-schema database is refused without writing")
def db_newer(home):
    def make(path):
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE runs (id TEXT)")
        conn.execute("PRAGMA user_version=99")
        conn.commit()
        conn.close()
    return _refused(home, make)


@attack("15 a read-only database can be listed and exported")
def db_read_only(home):
    db = _db_with_a_pair(home)
    db.chmod(0o444)
    home.chmod(0o555)
    try:
        listed = cli(home.parent, "runs", "--format", "json", "--db", str(db), powers=False)
        exported = cli(home.parent, "export", "--run", "r1", "--status", "all", "-o", "-", "--db", str(db), powers=False)
    finally:
        home.chmod(0o755)
    return listed.returncode == 0 and exported.returncode == 0 and exported.stdout.count(b"\n") == 1


@attack("15 the app refuses a corrupt database with a message before taking the terminal")
def app_corrupt_db(home):
    (home / "lab.db").write_bytes(b"SQLite format 3\x00" + b"\xa5" * 8192)
    done = cli(home, str(EXAMPLE), "--db", str(home / "lab.db"), timeout=30)
    return done.returncode == 1 and b"not a readable SQLite database" in done.stderr


@attack("15 a verdict meeting a database locked past the busy timeout is kept")
def locked_verdict(home):
    from lab_tui.store import review
    from lab_tui.store.db import open_db

    path = _db_with_a_pair(home)
    db = open_db(path)
    db.execute("UPDATE pairs SET status = 'pending'")
    db.execute("PRAGMA busy_timeout=50")
    ana = review.Session("ana")
    pair = review.next_pair(db, ana, review.ReviewFilter())
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.5, holder.commit)
    timer.start()
    try:
        review.record_verdict(db, pair["id"], ana, "accepted", pair["version"])
    except sqlite3.OperationalError:
        return False
    finally:
        timer.join()
        holder.close()
    return review.get_pair(db, "p1")["status"] == "accepted"


# ----- 16-17. themes, keymaps, lint walks, pipes ---------------------------------------------------

@attack("16 a malformed theme, a bad colour and a markup theme name are skipped with a message")
def themes(home):
    return _pilot(home, "themes")


@attack("16 a keymap naming an unknown action or reusing a key is reported")
def keymap(home):
    return _pilot(home, "keymap")


@attack("17 lint on an untraversable folder reports it with exit 1")
def lint_untraversable(home):
    locked = home / "tree" / "locked"
    locked.mkdir(parents=True)
    (locked / "qna.yaml").write_text("not: [valid\n")
    locked.chmod(0)
    try:
        done = cli(home, "lint", str(home / "tree"), powers=False)
    finally:
        locked.chmod(0o755)
    return done.returncode == 1 and b"cannot be read" in done.stdout


@attack("17 lint on a path inside an untraversable folder is a clear usage error")
def lint_inside(home):
    locked = home / "locked"
    locked.mkdir()
    (locked / "qna.yaml").write_text("x: 1\n")
    locked.chmod(0)
    try:
        done = cli(home, "lint", str(locked / "qna.yaml"), powers=False)
    finally:
        locked.chmod(0o755)
    return done.returncode == 2 and b"Permission denied" in done.stderr and b"Traceback" not in done.stderr


@attack("17 export -o missing/dir/out.jsonl is a clear error (exit 1, as its --help says)")
def export_missing_dir(home):
    done = cli(home, "export", "--run", "r1", "-o", str(home / "missing" / "dir" / "out.jsonl"))
    return done.returncode == 1 and b"does not exist" in done.stderr and b"Traceback" not in done.stderr


@attack("17 lab-tui runs --format json | head -1 ends quietly")
def broken_pipe(home):
    from lab_tui.store.db import open_db

    db = open_db(home / "lab.db")
    db["runs"].insert_all({"id": f"run-{i:05d}", "created_at": "2026-11-25", "status": "completed",
                           "skill_snapshot": "{}", "flow": "{}", "prompts_version": "p", "teacher": "{}",
                           "params": "{}"} for i in range(3000))
    db.conn.close()
    done = cli(home, "runs", "--format", "json", "--db", str(home / "lab.db"), tail=" | head -1")
    return done.stderr == b"" and len(done.stdout.splitlines()) == 1


# ----- the engine and `run` arguments (issue 9, items 2, 10, 12-14) ------------------------------

def _run_exit(home: Path, *args: str, faults=(), timeout=120):
    with TeacherServer(TeacherConfig(faults=list(faults))) as server:
        done = cli(home, "run", str(EXAMPLE), "--api-base", server.api_base, "--db", str(home / "lab.db"), *args,
                   timeout=timeout)
    return done, len(server.log)


@attack("12 (engine) a teacher answering 401 stops the run at once with exit 1")
def engine_auth(home):
    done, sent = _run_exit(home, "--contexts", "3", faults=[Fault("auth", times=10_000)])
    return done.returncode == 1 and sent <= 16


@attack("12 (engine) an unreachable teacher stops the run with exit 1")
def engine_unreachable(home):
    done = cli(home, "run", str(EXAMPLE), "--api-base", "http://127.0.0.1:9/v1", "--contexts", "2",
               "--db", str(home / "lab.db"))
    return done.returncode == 1


def _failed_rows(home: Path, fault: str) -> list[str]:
    done, _ = _run_exit(home, "--contexts", "2", "--questions", "1", faults=[Fault(fault, times=3)])
    conn = sqlite3.connect(home / "lab.db")
    reasons = [row[0] for row in conn.execute("SELECT reason FROM rows WHERE status = 'failed'")]
    status = conn.execute("SELECT status FROM runs").fetchone()[0]
    conn.close()
    return reasons if done.returncode == 0 and status == "completed" else []


@attack("10 (engine) an answer far over max_tokens is a failed row with its reason, not a huge database")
def engine_huge(home):
    reasons = _failed_rows(home, "huge")
    return len(reasons) == 3 and (home / "lab.db").stat().st_size < 20_000_000


@attack("13 (engine) an answer with empty choices is a failed row")
def engine_no_choices(home):
    return len(_failed_rows(home, "no_choices")) == 3


def _usage_error(home: Path, *args: str) -> bool:
    done, sent = _run_exit(home, *args)
    db = home / "lab.db"
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0] if db.exists() else 0
    return done.returncode == 2 and sent == 0 and stored == 0


@attack("14 (engine) --profile with an unknown name is a usage error")
def engine_profile(home):
    return _usage_error(home, "--profile", "nosuch")


@attack("14 (engine) --concurrency -1 is a usage error, nothing stored")
def engine_concurrency(home):
    return _usage_error(home, "--concurrency", "-1")


@attack("14 (engine) --contexts -5 is a usage error")
def engine_contexts_negative(home):
    return _usage_error(home, "--contexts", "-5")


@attack("14 (engine) --contexts 0 is a usage error")
def engine_contexts_zero(home):
    return _usage_error(home, "--contexts", "0")


@attack("14 (engine) --set foo is a usage error")
def engine_set(home):
    return _usage_error(home, "--set", "foo")


# ----- issue 16: hostile teachers (raw HTTP), requests, flow files, exports, migrations ---------

def _profile(home: Path, api_base: str, **extra) -> None:
    """A settings file with profile `h`: a 3 s whole-request timeout, quick back-off, the key from ATTACK_KEY."""
    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    profile = {"model": "openai/teacher", "api_base": api_base, "api_key_env": "ATTACK_KEY", "timeout": 3,
               "max_attempts": 2, "backoff_base": 0.01, "backoff_cap": 0.5, **extra}
    (config / "settings.json").write_text(json.dumps({"teachers": {"h": profile}}))


def _hostile_run(home: Path, *behaviours, default=None, extra_args=(), **profile):
    """`lab-tui run` of the example skill (1 context, 1 question per seed) against a HostileServer
    whose first answers are `behaviours`; returns (process, run status or None, requests served)."""
    server = HostileServer(**({"default": default} if default else {}))
    with server:
        server.then(*behaviours)
        _profile(home, server.api_base, **profile)
        done = cli(home, "run", str(EXAMPLE), "--profile", "h", "--contexts", "1", "--questions", "1",
                   "--db", str(home / "lab.db"), *extra_args, env={"ATTACK_KEY": KEY}, timeout=240)
    db = home / "lab.db"
    status = None
    if db.exists():
        found = sqlite3.connect(db).execute("SELECT status FROM runs").fetchone()
        status = found[0] if found else None
    return done, status, len(server.requests)


def _completed(done, status) -> bool:
    return done.returncode == 0 and status == "completed" and b"Traceback" not in done.stderr


def _leaks(home: Path, *outputs: bytes) -> bool:
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    return KEY.encode() in stored + b"".join(outputs)


@attack("16 (teacher) a token count of 10^30 fails no run")
def usage_overflow(home):
    usage = {"prompt_tokens": 10**30, "completion_tokens": 10**30, "total_tokens": 10**30}
    return _completed(*_hostile_run(home, answer(usage=usage), answer(usage=usage))[:2])


@attack("16 (teacher) a lone surrogate in an answer fails no run")
def lone_surrogate(home):
    spoil = answer(lambda text: text.replace("e", "e\ud800", 1), finish_reason="stop\udfff")
    return _completed(*_hostile_run(home, spoil, spoil)[:2])


@attack("16 (teacher) a teacher echoing the request headers: the key is in no file, export or output")
def echoed_key(home):
    done, status, _ = _hostile_run(home, default=echo_headers())
    if not _completed(done, status):
        return False
    run_id = sqlite3.connect(home / "lab.db").execute("SELECT id FROM runs").fetchone()[0]
    outputs = [done.stdout, done.stderr]
    for form in ("messages", "lab"):
        export = cli(home, "export", "--run", run_id, "--status", "all", "--format", form, "-o",
                     str(home / f"{form}.jsonl"), "--db", str(home / "lab.db"))
        outputs += [export.stdout, export.stderr]
        if export.returncode != 0:
            return False
    return not _leaks(home, *outputs)


@attack("16 (teacher) content that is an object holding the key: a failed row, the key nowhere")
def object_content(home):
    done, status, _ = _hostile_run(home, echo_headers(lambda text: {"text": text}),
                                   echo_headers(lambda text: [text]))
    return _completed(done, status) and not _leaks(home, done.stdout, done.stderr)


@attack("16 (teacher) Retry-After: inf and 999999 are capped; the run completes")
def retry_after_inf(home):
    return _completed(*_hostile_run(home, rate_limited("inf"), rate_limited("999999"), rate_limited("1e308"))[:2])


@attack("16 (teacher) a body dripping a byte a second is cut at the whole-request timeout")
def drip_body(home):
    return _completed(*_hostile_run(home, drip(1.0))[:2])


@attack("16 (teacher) headers dripping a byte a second are cut at the whole-request timeout")
def drip_head(home):
    return _completed(*_hostile_run(home, drip_headers(1.0))[:2])


@attack("16 (teacher) an endless chunked body is cut; the run completes")
def endless_body(home):
    return _completed(*_hostile_run(home, endless_chunks())[:2])


@attack("16 (teacher) a gzip bomb is capped before it is inflated (the run stays under 1 GiB)")
def gzip_bombed(home):
    server = HostileServer()
    with server:
        server.then(gzip_bomb())
        _profile(home, server.api_base)
        command = [sys.executable, "-m", "lab_tui", "run", str(EXAMPLE), "--profile", "h", "--contexts", "1",
                   "--questions", "1", "--db", str(home / "lab.db")]
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env=dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=str(ROOT)))
        timer = threading.Timer(240, child.kill)
        timer.start()
        _, status, usage = os.wait4(child.pid, 0)
        timer.cancel()
    peak_kib = usage.ru_maxrss
    stored = sqlite3.connect(home / "lab.db").execute("SELECT status FROM runs").fetchone()[0]
    return os.waitstatus_to_exitcode(status) == 0 and stored == "completed" and peak_kib < 1 << 20


@attack("16 (teacher) a 401 whose body holds escapes, markup and the key: exit 1, one clean line")
def hostile_401(home):
    body = f"bad key {KEY} \x1b]0;pwned\x07 \x1b]52;c;cm0gLXJm\x07 [link=https://x.example]click[/link]"
    done, _, sent = _hostile_run(home, default=error_body("401 Unauthorized", body))
    return (done.returncode == 1 and not escapes_in(done.stdout + done.stderr) and KEY.encode() not in done.stderr
            and b"Traceback" not in done.stderr and sent <= 16)


@attack("16 (teacher) a log path that is a folder: the run completes, says so once")
def log_is_folder(home):
    (home / "data" / "lab-tui.log").mkdir(parents=True)
    done, status, _ = _hostile_run(home)
    return _completed(done, status) and done.stderr.count(b"cannot open its log file") == 1


@attack('16 (teacher) a profile timeout written as "120" runs or is a usage error, never a TypeError per request')
def timeout_text(home):
    done, status, sent = _hostile_run(home, timeout="120")
    return _completed(done, status) or (done.returncode == 2 and sent == 0 and b"Traceback" not in done.stderr)


INCLUSION = ROOT / "tests" / "fixtures" / "taxonomy" / "compositional_skills__grounded__linguistics__inclusion.yaml"


@attack("16 (requests) a varying teacher's run killed part way and resumed keeps every answer it was given")
def killed_resume(home):
    db = home / "lab.db"
    args = ["run", str(INCLUSION), "--flow", "grounded_skills", "--contexts", "2", "--questions", "2",
            "--concurrency", "1", "--db", str(db)]
    with TeacherServer(TeacherConfig(vary=True, latency=0.02)) as server:
        child = subprocess.Popen([sys.executable, "-m", "lab_tui", *args, "--api-base", server.api_base],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=str(ROOT)))
        deadline = time.monotonic() + 120
        while child.poll() is None and len(server.answered()) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        child.kill()
        child.wait()
        conn = sqlite3.connect(db)
        run_id = conn.execute("SELECT id FROM runs").fetchone()[0]
        resumed = cli(home, "run", "--resume", run_id, "--db", str(db))
        answered = len(server.answered())
    stored = conn.execute("SELECT count(*) FROM requests WHERE response IS NOT NULL").fetchone()[0]
    status = conn.execute("SELECT status FROM runs").fetchone()[0]
    return resumed.returncode == 0 and status == "completed" and stored <= answered <= stored + 1


CANCELLED_RUN = """
import sys
from lab_tui.pipeline.engine import RunParams, start_run
from lab_tui.pipeline.teacher import TeacherProfile
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store import runs
from lab_tui.store.db import open_db
db = open_db(sys.argv[1])
profile = TeacherProfile(model="openai/teacher", api_base=sys.argv[2], timeout=5, backoff_base=0.01)
run_id = start_run(db, load_skill(example_skill_path()).skill, profile,
                   RunParams(counts={"contexts": 2, "questions": 2}, concurrency=4))
runs.mark_run(db, run_id, "cancelled")
print(run_id)
"""


@attack("16 (runs) two resumes at once: one runs, the other is refused, nothing is sent twice")
def two_resumes(home):
    db = home / "lab.db"
    environment = dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=str(ROOT))
    with TeacherServer(TeacherConfig(latency=0.2)) as server:
        run_id = subprocess.run([sys.executable, "-c", CANCELLED_RUN, str(db), server.api_base], env=environment,
                                capture_output=True, text=True, check=True).stdout.strip()
        command = [sys.executable, "-m", "lab_tui", "run", "--resume", run_id, "--db", str(db)]
        both = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
                for _ in range(2)]
        codes = sorted(child.wait(timeout=240) for child in both)
        errors = b"".join(child.communicate()[1] for child in both)
        answered = len(server.log)
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM requests").fetchone()[0]
    return codes == [0, 1] and b"still running" in errors and b"Traceback" not in errors and stored == answered


MIGRATION_KILLS = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05)


@attack("16 (store) a schema migration killed at six moments leaves a database every command opens")
def migration_killed(home):
    v1 = Path(__file__).resolve().parents[1] / "fixtures" / "databases" / "lab_v1.db"
    held = 0
    for n, delay in enumerate(MIGRATION_KILLS):
        folder = home / str(n)
        folder.mkdir()
        db = folder / "lab.db"
        db.write_bytes(v1.read_bytes())
        child = subprocess.Popen([sys.executable, "-m", "lab_tui", "runs", "--db", str(db)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=str(ROOT)))
        while child.poll() is None and not list(folder.glob("lab.db.v1-backup*")):
            time.sleep(0.0005)
        time.sleep(delay)
        child.kill()
        child.wait()
        runs = cli(home, "runs", "--db", str(db), "--format", "json")
        listed = json.loads(runs.stdout) if runs.returncode == 0 else []
        report = cli(home, "report", listed[0]["id"], "--db", str(db), "--format", "json") if listed else None
        held += bool(report and report.returncode == 0 and json.loads(report.stdout)["pairs"]["kept"] == 3)
    return held == len(MIGRATION_KILLS)


def _flow_copy(home: Path) -> Path:
    folder = home / "flow"
    source = ROOT / "prompts" / "unstructured_to_structured"
    folder.mkdir()
    for path in source.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def _flow_refused(home: Path, folder: Path) -> bool:
    done = cli(home, "run", str(EXAMPLE), "--flow", str(folder), "--api-base", "http://127.0.0.1:9/v1",
               "--db", str(home / "lab.db"), timeout=60)
    db = home / "lab.db"
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0] if db.exists() else 0
    return done.returncode == 2 and b"Traceback" not in done.stderr and stored == 0


@attack("16 (flow) a billion-laughs flow.yaml is refused at once")
def flow_bomb(home):
    folder = _flow_copy(home)
    (folder / "flow.yaml").write_text(BOMB)
    return _flow_refused(home, folder)


@attack("16 (flow) a prompt path outside the flow folder (absolute, or a symlink out) is refused")
def flow_outside(home):
    secret = home / "secret.yaml"
    secret.write_text("system: s\nintroduction: i\nprinciples: p\nexamples: e\ngeneration: g\n")
    folder = _flow_copy(home)
    text = (folder / "flow.yaml").read_text()
    (folder / "flow.yaml").write_text(text.replace("prompt: gen_texts.yaml", f"prompt: {secret}", 1))
    absolute = _flow_refused(home, folder)
    (folder / "flow.yaml").write_text(text)
    (folder / "gen_texts.yaml").unlink()
    (folder / "gen_texts.yaml").symlink_to(secret)
    return absolute and _flow_refused(home, folder)


@attack("16 (flow) a FIFO or /dev/zero as a flow file is never opened")
def flow_fifo(home):
    folder = _flow_copy(home)
    (folder / "gen_texts.yaml").unlink()
    os.mkfifo(folder / "gen_texts.yaml")
    fifo = _flow_refused(home, folder)
    (folder / "flow.yaml").unlink()
    (folder / "flow.yaml").symlink_to("/dev/zero")
    return fifo and _flow_refused(home, folder)


@attack("16 (flow) settings of the wrong type (a list as a name, scores: [high], count: true) are refused")
def flow_types(home):
    folder = _flow_copy(home)
    text = (folder / "flow.yaml").read_text()
    held = True
    for old, new in (("  - name: gen_texts\n", "  - name: [gen_texts, other]\n"), ("scores: [1, 2, 3]", "scores: [high]"),
                     ("count: 10", "count: true")):
        (folder / "flow.yaml").write_text(text.replace(old, new, 1))
        held = held and old in text and _flow_refused(home, folder)
    return held


@attack("16 (flow) escapes and markup in a flow's name, block names and labels never reach the terminal")
def flow_names(home):
    folder = _flow_copy(home)
    text = (folder / "flow.yaml").read_text()
    hostile = "\\e]0;pwned\\a[link=https://x.example]x[/link]"
    text = text.replace("name: unstructured_to_structured", f'name: "flow{hostile}"', 1)
    text = re.sub(r"label: (.*)", lambda m: f'label: "{m.group(1)}{hostile}"', text)
    (folder / "flow.yaml").write_text(text)
    with TeacherServer() as server:
        done = cli(home, "run", str(EXAMPLE), "--flow", str(folder), "--api-base", server.api_base, "--count",
                   "contexts=1", "--db", str(home / "lab.db"))
    found = sqlite3.connect(home / "lab.db").execute("SELECT id FROM runs").fetchone() if done.returncode == 0 else None
    report = cli(home, "report", found[0], "--db", str(home / "lab.db")) if found else None
    return bool(report and report.returncode == 0 and b"[link=https://x.example]" in report.stdout
                and not escapes_in(done.stdout + done.stderr + report.stdout + report.stderr))


@attack("16 (export) -o a FIFO is refused without hanging; -o a device node is refused and left a device")
def export_fifo_device(home):
    db = _db_with_a_pair(home)
    fifo = home / "out.jsonl"
    os.mkfifo(fifo)
    piped = cli(home, "export", "--run", "r1", "-o", str(fifo), "--db", str(db), timeout=60)
    device_ok = True
    if os.geteuid() == 0:
        device = home / "null"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        done = cli(home, "export", "--run", "r1", "-o", str(device), "--db", str(db), timeout=60)
        device_ok = done.returncode != 0 and stat.S_ISCHR(device.lstat().st_mode)
    return piped.returncode != 0 and stat.S_ISFIFO(fifo.stat().st_mode) and device_ok


@attack("16 (cli) an unknown subcommand without a terminal is a usage error, never the editor")
def unknown_command(home):
    done = subprocess.run([sys.executable, "-m", "lab_tui", "bogus"], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60,
                          env=dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=str(ROOT)))
    return done.returncode == 2 and not (home / "bogus").exists() and not escapes_in(done.stdout)


# ----- app attacks, run under Pilot in a child process -----------------------------------------

PILOT = r'''
import asyncio, json, sys
from pathlib import Path
from lab_tui.ui.app import LabApp
from lab_tui.ui.dialogs import ChoiceDialog

case, home = sys.argv[1], Path(sys.argv[2])
skill = home / "qna.yaml"

async def main():
    app = LabApp(skill, home / "lab.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        notes = lambda: "\n".join(str(n.message) for n in app._notifications)
        screen = app.screen
        if case == "disk_change":
            skill.write_text(skill.read_text().replace("Draft", "Theirs: draft", 1))
            screen.skill.task_description = "Mine."
            screen.unsaved = True
            await pilot.press("ctrl+s")
            await pilot.pause()
            print(isinstance(app.screen, ChoiceDialog) and "Theirs" in skill.read_text())
        elif case == "osc52":
            area = screen.query_one("#raw" if screen.raw_mode else "#question")
            area.move_cursor((area.text[:area.text.index("52;c;")].count("\n"), 0), center=True)
            await pilot.pause()
            shown = "".join(s.text for y in range(area.size.height) for s in area.render_line(y))
            print("\x1b" not in shown and "\x07" not in shown and "52;c;" in shown)
        elif case == "deep":
            print(screen.raw_mode and any(f.rule == "yaml/too-deep" for f in screen.findings))
        elif case == "themes":
            print(all(w in notes() for w in ("broken.yaml", "colour.yaml", "click.yaml"))
                  and not any("click" in t for t in app.available_themes))
        elif case == "keymap":
            print("nope.x" in notes() and "ctrl+o is bound to both" in notes())

asyncio.run(main())
'''


def _pilot(home: Path, case: str) -> bool:
    if case == "osc52":
        skill_copy(home, EXAMPLE.read_bytes().replace(b"Draft", b"\x1b]52;c;cm0gLXJm\x07Draft", 1))
    elif case == "deep":
        skill_copy(home, b"a: " + b"[" * 10_000 + b"]" * 10_000 + b"\n")
    else:
        skill_copy(home)
    config = home / "config"
    (config / "themes").mkdir(parents=True)
    if case == "themes":
        (config / "themes" / "broken.yaml").write_text("name: broken\nprimary: [x\n")
        (config / "themes" / "colour.yaml").write_text("name: colour\nprimary: '#12'\n")
        (config / "themes" / "click.yaml").write_text("name: '[@click=app.quit]q'\nprimary: red\n")
    if case == "keymap":
        (config / "settings.json").write_text(json.dumps({"keymap": {"nope.x": "f10", "seeds.save": "ctrl+o"}}))
    done = subprocess.run([sys.executable, "-c", PILOT, case, str(home)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=str(ROOT), TEXTUAL_ANIMATIONS="none"))
    return done.stdout.strip().endswith("True")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-k", default="", help="run only attacks whose name contains this")
    args = parser.parse_args()
    chosen = [(name, function) for name, function in ATTACKS if args.k in name]
    held = 0
    for name, function in chosen:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder) / "home"
            home.mkdir()
            try:
                ok = bool(function(home))
                detail = ""
            except Exception as error:  # an attack that crashes the harness did not hold either
                ok, detail = False, f" ({type(error).__name__}: {error})"
                if os.environ.get("ATTACKS_DEBUG"):
                    traceback.print_exc()
            finally:
                for path in Path(folder).rglob("*"):
                    if path.is_dir() and not path.is_symlink():
                        path.chmod(0o755)
        held += ok
        print(f"{'held  ' if ok else 'FAILED'} {name}{detail}", flush=True)
    print(f"{held} of {len(chosen)} held")
    return 0 if held == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
