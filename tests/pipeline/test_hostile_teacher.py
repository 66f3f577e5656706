"""Hostile teachers (tests/hostile_server.py, raw HTTP on 127.0.0.1): one answer fails its row,
never the run; every attempt has a deadline for its whole exchange; no key leaks; what a teacher
sends never reaches the terminal raw.

Calls that a regression would hang are awaited with `finish` (a generous deadline, so the suite
fails clearly instead of hanging); none of them asserts on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from hostile_server import (HostileServer, answer, drip, drip_headers, echo_headers, endless_chunks, error_body, good,
                            gzip_bomb, gzipped, rate_limited)

from lab_tui.pipeline.engine import RunParams, run_flow, start_run
from lab_tui.pipeline.teacher import Endpoint, Teacher, TeacherError, TeacherProfile, close_clients
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db

KEY = "sk-hostile-0123456789SECRET"
ASK = [{"role": "user", "content": "Write it between [Start of Context] and [End of Context]."}]
UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e", "\ud800")


@pytest.fixture
def server():
    with HostileServer() as started:
        yield started


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("LAB_TUI_TEST_TEACHER_KEY", KEY)
    return "LAB_TUI_TEST_TEACHER_KEY"


def teacher(api_base: str, **kwargs) -> Teacher:
    values = dict(model="openai/teacher", api_base=api_base, timeout=5, backoff_base=0.01, backoff_cap=0.2,
                  max_attempts=3)
    values.update(kwargs)
    return Teacher(TeacherProfile(**values))


async def finish(awaitable, seconds: float = 60.0):
    """The call's result, or a clear failure if it has not ended in `seconds` (a hang)."""
    return await asyncio.wait_for(awaitable, seconds)


async def ask(client: Teacher, n: int = 0, max_tokens: int = 100):
    return await finish(client.complete([{"role": "user", "content": f"{ASK[0]['content']} ({n})"}],
                                        temperature=0.7, max_tokens=max_tokens))


# ----- one answer fails its row, never the run ---------------------------------------------------


async def test_a_token_count_of_ten_to_the_thirty_is_stored_as_not_said(server):
    server.then(answer(usage={"prompt_tokens": 10**30, "completion_tokens": -3, "total_tokens": 10**30}))
    got = await ask(teacher(server.api_base))
    await close_clients()
    assert got.text.startswith("[Start of Context]") and (got.tokens_in, got.tokens_out) == (0, 0)


async def test_a_lone_surrogate_in_an_answer_is_kept_as_visible_text(server):
    server.then(answer(lambda text: text.replace("Company", "Comp\ud800any", 1), finish_reason="stop\udfff"))
    got = await ask(teacher(server.api_base))
    await close_clients()
    assert "Comp\\ud800any" in got.text and got.text.encode("utf-8"), "valid UTF-8: SQLite takes it"
    assert got.finish_reason == "stop", "litellm maps a finish reason it does not know to stop"


async def test_a_run_with_such_answers_completes_and_stores_them(server, tmp_path):
    """Both ended the whole run before: OverflowError and UnicodeEncodeError from the store."""
    server.then(answer(usage={"prompt_tokens": 10**30, "completion_tokens": 10**30, "total_tokens": 1}),
                answer(lambda text: text.replace("Company", "Comp\ud800any", 1)))
    db = open_db(tmp_path / "lab.db")
    run_id = start_run(db, load_skill(example_skill_path()).skill,
                       TeacherProfile(model="openai/teacher", api_base=server.api_base, timeout=5),
                       RunParams(counts={"contexts": 1, "questions": 1}))
    result = await finish(run_flow(tmp_path / "lab.db", run_id), 120)
    await close_clients()
    assert result.status == "completed"
    stored = [row["response"] for row in db.query("SELECT response FROM requests WHERE run_id = ?", [run_id])]
    assert any("Comp\\ud800any" in text for text in stored)
    assert max(db.execute("SELECT max(tokens_in), max(tokens_out) FROM requests").fetchone()) < 10**9


async def test_content_that_is_an_object_or_a_list_fails_its_row_at_once_saying_so(server, key):
    server.then(echo_headers(lambda text: {"text": text}), echo_headers(lambda text: [{"type": "text", "text": text}]))
    client = teacher(server.api_base, api_key_env=key)
    for _ in range(2):
        with pytest.raises(TeacherError) as caught:
            await ask(client)
        assert caught.value.kind == "bad_answer" and caught.value.attempts == 1 and not caught.value.fatal
        assert "Message.content: Input should be a valid string" in caught.value.message
        assert "SECRET" not in str(caught.value)
    await close_clients()
    assert len(server.requests) == 2, "not retried: the same server would answer the same way"


# ----- every attempt has a deadline for its whole exchange ----------------------------------------


@pytest.mark.parametrize("retry_after", ["999999", "inf", "1e400", "Thu, 01 Jan 2099 00:00:00 GMT"])
async def test_a_retry_after_of_days_or_inf_waits_backoff_cap_at_most(server, retry_after):
    server.then(rate_limited(retry_after))
    got = await ask(teacher(server.api_base, backoff_cap=0.2))
    await close_clients()
    assert got.attempts == 2 and len(server.requests) == 2


@pytest.mark.parametrize("hostile", [drip, drip_headers, endless_chunks], ids=["drip", "drip_headers", "endless"])
async def test_an_exchange_that_never_ends_is_cut_at_the_profiles_timeout_and_retried(server, hostile):
    """httpx's and aiohttp's timeouts are per read: each of these hung the run for ever (each read
    here gets a byte every 0.2 s, well within the timeout)."""
    client = teacher(server.api_base, timeout=3)
    await ask(client, 0)
    server.then(hostile(0.2))
    got = await ask(client, 1)
    await close_clients()
    assert got.attempts == 2 and len(server.requests) == 3


async def test_a_teacher_that_only_drips_stops_the_run_as_one_that_does_not_answer(server):
    server.default = drip(0.2)
    with pytest.raises(TeacherError) as caught:
        await ask(teacher(server.api_base, timeout=1))
    await close_clients()
    assert caught.value.kind == "timeout" and caught.value.fatal and caught.value.attempts == 1
    assert "within the profile's timeout" in caught.value.advice()


async def test_a_gzip_bomb_fails_its_row_and_is_read_no_further(server):
    """A 3 GB bomb took 3.35 GB of memory for one answer; this one never ends, and the profile's
    timeout is far away: only the cap on what is read can end it."""
    client = teacher(server.api_base, timeout=60)
    server.then(gzipped(), gzip_bomb())
    assert (await ask(client, 0)).text.startswith("[Start of Context]"), "a gzipped answer is read as before"
    with pytest.raises(TeacherError) as caught:
        await ask(client, 1, max_tokens=100)
    await close_clients()
    assert caught.value.kind == "bad_answer" and caught.value.attempts == 1 and not caught.value.fatal
    assert "the answer is over 1,835,008 bytes" in caught.value.message, caught.value.message


async def test_an_endless_plain_body_is_cut_at_the_same_cap(server):
    def flood(connection, request, stopping):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        while not stopping.is_set():
            connection.sendall(b"10000\r\n" + chunk + b"\r\n")

    client = teacher(server.api_base, timeout=60)
    await ask(client, 0)
    server.then(flood)
    with pytest.raises(TeacherError) as caught:
        await ask(client, 1)
    await close_clients()
    assert caught.value.kind == "bad_answer" and "over 1,835,008 bytes" in caught.value.message


@pytest.fixture
def pair():
    with HostileServer() as first, HostileServer() as second:
        yield first, second


def fleet(*servers, **kwargs) -> Teacher:
    values = dict(model="openai/teacher", timeout=3, backoff_base=0.01, backoff_cap=0.2, max_attempts=3, cooldown=0.5,
                  endpoints=tuple(Endpoint(s.api_base, max_concurrency=2) for s in servers))
    values.update(kwargs)
    return Teacher(TeacherProfile(**values))


async def test_through_the_router_a_dripping_endpoint_is_cut_cooled_down_and_the_request_answered_elsewhere(pair):
    first, second = pair
    first.then(drip(0.2))
    client = fleet(first, second)
    answers = await finish(asyncio.gather(*(ask(client, n) for n in range(6))))
    figures = {f.api_base: f for f in client.figures()}
    await close_clients()
    assert all(a.text for a in answers)
    assert figures[first.api_base].errors == 1 and figures[second.api_base].errors == 0


async def test_through_the_router_a_retry_after_of_days_on_every_endpoint_rests_them_backoff_cap_at_most(pair):
    """The Router cooled an endpoint down for its Retry-After: 999999 s, eleven days, on each."""
    first, second = pair
    first.then(rate_limited("999999"))
    second.then(rate_limited("999999"))
    client = fleet(first, second)
    answers = await finish(asyncio.gather(*(ask(client, n) for n in range(2))))
    await close_clients()
    assert all(a.text for a in answers) and len(first.requests) + len(second.requests) == 4


async def test_through_the_router_a_gzip_bomb_fails_its_row(pair):
    first, second = pair
    first.then(gzip_bomb())
    second.then(gzip_bomb())
    client = fleet(first, second, timeout=60)
    with pytest.raises(TeacherError) as caught:
        await ask(client)
    await close_clients()
    assert caught.value.kind == "bad_answer" and "over 1,835,008 bytes" in caught.value.message


# ----- nothing leaks, nothing raw -------------------------------------------------------------------


async def test_an_answer_echoing_the_request_headers_comes_back_without_the_key(server, key):
    server.then(echo_headers())
    got = await ask(teacher(server.api_base, api_key_env=key))
    await close_clients()
    assert "authorization: Bearer [redacted]" in got.text
    assert "SECRET" not in got.text and got.text.startswith("[Start of Context]")


async def test_a_teacher_error_body_becomes_one_clean_redacted_line(server, key):
    hostile = ("\x1b]52;c;aGVsbG8=\x07\x1b[2J\u202eevil\ud800 Authorization: Bearer " + KEY + " "
               + "\x9b31m" + "y" * 100_000)
    server.then(error_body("500 Internal Server Error", hostile))
    with pytest.raises(TeacherError) as caught:
        await ask(teacher(server.api_base, api_key_env=key, max_attempts=1))
    await close_clients()
    for text in (caught.value.message, str(caught.value), caught.value.advice()):
        assert not any(c in text for c in UNSAFE), repr(text[:200])
        assert "SECRET" not in text and "\n" not in text and text.encode("utf-8")
    assert len(caught.value.message) <= 300 and "evil" in caught.value.message


def lab_tui(*args, home, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab_tui", *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, LAB_TUI_HOME=str(home), **(env or {})))


def test_a_run_whose_answers_echo_the_key_keeps_it_out_of_the_database_exports_output_and_log(tmp_path):
    """The key was stored in pairs and both export formats; an answer whose content is an object
    holding it was printed on stderr by pydantic's serializer warning."""
    with HostileServer(default=echo_headers()) as server:
        server.then(echo_headers(lambda text: {"text": text}))
        home, db = tmp_path / "home", tmp_path / "lab.db"
        env = {"LAB_TUI_TEST_TEACHER_KEY": KEY}
        run = lab_tui("run", str(example_skill_path()), "--api-base", server.api_base, "--api-key-env",
                      "LAB_TUI_TEST_TEACHER_KEY", "--contexts", "1", "--questions", "1", "--db", str(db),
                      home=home, env=env)
    assert run.returncode == 0, run.stderr
    run_id = sqlite3.connect(db).execute("SELECT id FROM runs").fetchone()[0]
    outputs = [run.stdout + run.stderr]
    for form in ("messages", "lab"):
        export = lab_tui("export", "--run", run_id, "--status", "all", "--format", form,
                         "-o", str(tmp_path / f"{form}.jsonl"), "--db", str(db), home=home)
        assert export.returncode == 0, export.stderr
        outputs.append(export.stdout + export.stderr)
    stored = sqlite3.connect(db)
    failed = [r for (r,) in stored.execute("SELECT reason FROM rows WHERE status = 'failed'")]
    echoed = stored.execute("SELECT count(*) FROM pairs WHERE context LIKE '%Bearer [redacted]%'").fetchone()[0]
    stored.close()
    assert any("Message.content: Input should be a valid string" in reason for reason in failed), failed
    assert echoed > 0, "the teacher did echo the headers into stored pairs (redacted)"
    assert "serializer" not in run.stderr.lower() and "Traceback" not in run.stderr
    files = [db, db.with_name("lab.db-wal"), tmp_path / "messages.jsonl", tmp_path / "lab.jsonl",
             home / "data" / "lab-tui.log"]
    everything = "".join(outputs).encode() + b"".join(p.read_bytes() for p in files if p.exists())
    assert b"SECRET" not in everything
    assert (tmp_path / "lab.jsonl").read_text().count("[redacted]") > 0


def test_a_data_dir_that_cannot_hold_the_log_leaves_runs_and_checks_working(tmp_path):
    """litellm's set-up opened the log file and the run failed on it."""
    home, db = tmp_path / "home", tmp_path / "lab.db"
    (home / "data" / "lab-tui.log").mkdir(parents=True)  # unwritable whoever runs the test, root included
    with HostileServer() as server:
        run = lab_tui("run", str(example_skill_path()), "--api-base", server.api_base, "--contexts", "1",
                      "--questions", "1", "--db", str(db), home=home)
        check = lab_tui("teacher", "check", "--api-base", server.api_base, home=home)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.count("cannot open its log file") == 1, run.stderr
    assert json.loads(sqlite3.connect(db).execute("SELECT report FROM runs").fetchone()[0])["stages"]
    assert check.returncode == 0 and "answers" in check.stdout
    assert check.stderr.count("cannot open its log file") == 1, check.stderr
