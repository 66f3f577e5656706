"""A profile over several endpoints, through litellm's Router, against two or three of the suite's
servers on 127.0.0.1: spread, failover, cool-down and return, a 429 on one endpoint, resume over a
changed endpoint list, per-endpoint figures, bad profiles, and no key anywhere it could leak."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from teacher_server import Fault, TeacherConfig, TeacherServer
from waiting import eventually

from lab_tui.cli import main
from lab_tui.config import Settings, log_path, save_settings
from lab_tui.pipeline.engine import RunAborted, RunParams, run_flow, start_run
from lab_tui.pipeline.events import RunProgress
from lab_tui.pipeline.progress import saved_progress
from lab_tui.pipeline.teacher import (Endpoint, ProfileError, Teacher, TeacherProfile, close_clients,
                                      load_profile)
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db

ASK = "Write it between [Start of Context] and [End of Context]. ({n})"


@pytest.fixture
def servers():
    """Three servers with a little latency, so requests overlap."""
    started = [TeacherServer(TeacherConfig(latency=0.05)).__enter__() for _ in range(3)]
    yield started
    for server in started:
        server.stop()


def fleet(*servers, **kwargs) -> TeacherProfile:
    values = dict(model="openai/teacher", timeout=5, backoff_base=0.01, max_attempts=4, cooldown=0.5,
                  endpoints=tuple(Endpoint(s.api_base, max_concurrency=4) for s in servers))
    values.update(kwargs)
    return TeacherProfile(**values)


async def ask_many(teacher: Teacher, numbers) -> list:
    return await asyncio.gather(*(teacher.complete([{"role": "user", "content": ASK.format(n=n)}],
                                                   temperature=0.7, max_tokens=100) for n in numbers))


async def start(db_path, profile, events=None, cancel=None, **params):
    db = open_db(db_path)
    run_id = start_run(db, load_skill(example_skill_path()).skill, profile,
                       RunParams(concurrency=profile.max_concurrency, **params))
    result = await run_flow(db_path, run_id, on_event=(events.append if events is not None else lambda e: None),
                            cancel=cancel)
    return run_id, result


def answered_twice(*servers) -> list[str]:
    counts = Counter(digest for server in servers for digest in server.answered())
    return [digest for digest, count in counts.items() if count > 1]


# ----- profile ----------------------------------------------------------------------------------


def settings(**teachers) -> None:
    save_settings(Settings({"teachers": teachers}))


def test_a_fleet_profile_reads_as_the_issue_writes_it_and_its_concurrency_is_the_sum(monkeypatch):
    monkeypatch.setenv("GPU_KEY", "sk-fleet-secret")
    settings(fleet={"model": "openai/granite", "endpoints": [
        {"api_base": "http://a:8000/v1", "max_concurrency": 64, "api_key_env": "GPU_KEY", "rpm": 600, "tpm": 90000},
        {"api_base": "http://b:8000/v1", "max_concurrency": 32}]})
    profile = load_profile("fleet")
    assert profile.bases() == ("http://a:8000/v1", "http://b:8000/v1")
    assert profile.max_concurrency == 96 and Teacher(profile).concurrency == 96
    assert Teacher(profile, 10).concurrency == 10 and Teacher(profile, 500).concurrency == 96
    assert profile.endpoints[0].rpm == 600 and profile.endpoints[1].api_key_env is None
    assert "sk-fleet-secret" not in repr(profile.public())
    assert TeacherProfile(**profile.public()) == profile, "a run's stored profile reads back the same"
    assert load_profile().endpoints == () and load_profile().api_base == "http://127.0.0.1:8000/v1"


@pytest.mark.parametrize("endpoints, message", [
    ([], "lists no endpoints"),
    ("http://a:8000/v1", "lists no endpoints"),
    ([{"api_base": "http://a:8000/v1"}, {"api_base": "http://A:8000/v1/"}], "endpoints 1 and 2 are the same server"),
    ([{"api_base": "a:8000/v1"}], "endpoint 1's api_base 'a:8000/v1' is not an http(s) URL"),
    ([{"api_base": "http://a:8000/v1"}, {"api_base": "http:///v1"}], "endpoint 2's api_base"),
    ([{"api_base": "http://a:80x0/v1"}], "has a port that is not a number"),
    ([{"api_base": "http://a:8000/v1", "api_key_env": "LAB_TUI_UNSET_KEY"}], "$LAB_TUI_UNSET_KEY, which is not set"),
    ([{"api_base": "http://a:8000/v1", "max_concurrency": 0}], "max_concurrency is 0"),
    ([{"api_base": "http://a:8000/v1", "max_concurency": 8}], "unknown keys max_concurency"),
])
def test_a_bad_fleet_profile_is_a_clear_error_before_anything_is_sent(monkeypatch, endpoints, message):
    monkeypatch.delenv("LAB_TUI_UNSET_KEY", raising=False)
    settings(fleet={"model": "openai/granite", "endpoints": endpoints})
    with pytest.raises(ProfileError, match=message.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")):
        load_profile("fleet")


def test_lab_tui_run_refuses_a_bad_fleet_with_exit_2_and_stores_nothing(tmp_path, capsys):
    settings(fleet={"model": "openai/granite", "endpoints": [{"api_base": "http://a/v1"}, {"api_base": "http://a/v1"}]})
    code = main(["run", str(example_skill_path()), "--profile", "fleet", "--db", str(tmp_path / "lab.db")])
    assert code == 2 and "endpoints 1 and 2 are the same server" in capsys.readouterr().err
    assert not (tmp_path / "lab.db").exists() or open_db(tmp_path / "lab.db")["runs"].count == 0


# ----- the Router's work ------------------------------------------------------------------------


async def test_requests_spread_over_every_endpoint_and_each_answer_names_its_endpoint(servers):
    teacher = Teacher(fleet(*servers))
    answers = await ask_many(teacher, range(24))
    by_endpoint = Counter(answer.endpoint for answer in answers)
    assert set(by_endpoint) == {s.api_base for s in servers}
    assert all(count >= 4 for count in by_endpoint.values()), by_endpoint
    assert all(s.max_in_flight <= 4 for s in servers), "each endpoint held to its max_concurrency"
    figures = {f.api_base: f for f in teacher.figures()}
    assert {base: f.answered for base, f in figures.items()} == dict(by_endpoint)
    assert all(f.mean_latency_s >= 0.05 and f.errors == 0 and f.in_flight == 0 for f in figures.values())
    await close_clients()


async def test_endpoints_of_unequal_max_concurrency_are_each_filled_to_their_own(servers):
    big, small = servers[:2]
    teacher = Teacher(fleet(big, small, endpoints=(Endpoint(big.api_base, max_concurrency=6),
                                                   Endpoint(small.api_base, max_concurrency=2))))
    answers = await ask_many(teacher, range(64))
    assert big.max_in_flight > 2, "the bigger endpoint was held to the smaller one's limit"
    assert big.max_in_flight <= 6 and small.max_in_flight <= 2
    by_endpoint = Counter(answer.endpoint for answer in answers)
    assert by_endpoint[big.api_base] > 2 * by_endpoint[small.api_base], by_endpoint
    await close_clients()


async def test_an_endpoint_that_fails_is_cooled_down_its_request_answered_elsewhere_and_it_returns(servers):
    first, second = servers[:2]
    teacher = Teacher(fleet(first, second, cooldown=1.0))
    await ask_many(teacher, range(8))
    second.config.faults = [Fault("500")]
    answers = await ask_many(teacher, range(8, 16))
    assert all(answer.text for answer in answers), "the request that met the 500 was answered by the other one"
    assert [entry.status for entry in second.log].count(500) == 1
    assert {f.api_base: f.errors for f in teacher.figures()} == {first.api_base: 0, second.api_base: 1}
    assert {f.api_base for f in teacher.figures() if f.cooling} == {second.api_base}
    resting = len(second.log)
    await ask_many(teacher, range(16, 24))
    assert len(second.log) == resting, "nothing is sent to an endpoint while it cools down"
    await eventually(lambda: not any(f.cooling for f in teacher.figures()))
    answers = await ask_many(teacher, range(24, 32))
    assert second.api_base in {answer.endpoint for answer in answers}, "it is tried again after its cool-down"
    await close_clients()


async def test_a_429_from_one_endpoint_rests_that_one_only_for_its_retry_after(servers):
    first, second = servers[:2]
    teacher = Teacher(fleet(first, second, cooldown=0.2))
    await ask_many(teacher, range(4))
    second.config.faults = [Fault("429", retry_after=2)]  # whole seconds, as servers send it
    started = time.monotonic()
    answers = await ask_many(teacher, range(4, 20))
    assert time.monotonic() - started < 1.5, "the run did not wait out the other endpoint's Retry-After"
    assert all(answer.text for answer in answers)
    assert [entry.status for entry in first.log].count(429) == 0
    assert [entry.status for entry in second.log] .count(429) == 1
    rested = len(second.log)
    assert any(f.cooling for f in teacher.figures() if f.api_base == second.api_base)
    await ask_many(teacher, range(20, 28))
    assert len(second.log) == rested, "rested for its Retry-After (2 s), longer than the profile's cool-down"
    await close_clients()


def minutes_spanned(started: float) -> int:
    """Minutes of the clock a test touched: rpm and tpm are counted per calendar minute."""
    return int(time.time() // 60) - int(started // 60) + 1


async def test_an_endpoints_rpm_is_enforced_and_its_refusals_cost_no_request_an_attempt(servers):
    first, second = servers[:2]
    teacher = Teacher(fleet(first, second, endpoints=(Endpoint(first.api_base, max_concurrency=4, rpm=3),
                                                      Endpoint(second.api_base, max_concurrency=4))))
    started = time.time()
    answers = await ask_many(teacher, range(20))
    assert all(answer.text and answer.attempts == 1 for answer in answers)
    assert 3 <= len(first.log) <= 3 * minutes_spanned(started), "at most 3 requests a minute reached it"
    assert Counter(answer.endpoint for answer in answers)[second.api_base] == 20 - len(first.log)
    figures = {f.api_base: f for f in teacher.figures()}
    assert figures[first.api_base].errors == 0, "a limit reached is not the endpoint's error"
    await close_clients()


async def test_an_endpoints_tpm_is_enforced(servers):
    first, second = servers[:2]
    teacher = Teacher(fleet(first, second, endpoints=(Endpoint(first.api_base, max_concurrency=8, tpm=60),
                                                      Endpoint(second.api_base, max_concurrency=1))))
    started = time.time()
    for n in range(12):  # one at a time, so each answer's tokens are counted before the next is routed
        await ask_many(teacher, [n])
    assert len(first.log) + len(second.log) == 12
    assert 2 <= len(first.log) <= 4 * minutes_spanned(started), \
        "chosen 8 times in 9 until two answers (about 35 tokens each) used its 60 tokens a minute; then left " \
        "alone (a third or fourth may pass before litellm has counted the tokens in its background logging)"
    await close_clients()


async def test_a_gone_endpoint_tried_again_after_each_cool_down_does_not_use_up_requests_attempts(servers):
    first, second = servers[:2]
    teacher = Teacher(fleet(first, second, cooldown=0.1, max_attempts=2))
    await ask_many(teacher, range(8))
    second.stop()
    answers = await ask_many(teacher, range(8, 88))
    assert {answer.endpoint for answer in answers} == {first.api_base}
    assert {f.api_base: f.errors > 2 for f in teacher.figures()} == {first.api_base: False, second.api_base: True}, \
        "the gone endpoint was tried again after its cool-downs"
    await close_clients()


async def test_requests_started_never_outnumber_the_slots_while_an_endpoint_is_gone(servers):
    first, second = servers[:2]
    teacher = Teacher(fleet(first, second, cooldown=5.0, endpoints=(
        Endpoint(first.api_base, max_concurrency=2), Endpoint(second.api_base, max_concurrency=2),
        Endpoint("http://127.0.0.1:9/v1", max_concurrency=2))))
    started, most = set(), [0]

    async def ask(n):
        def attempt(number):
            started.add(n)
            most[0] = max(most[0], len(started))

        await teacher.complete([{"role": "user", "content": ASK.format(n=n)}], temperature=0.7, max_tokens=100,
                               on_attempt=attempt)
        started.discard(n)

    await asyncio.gather(*(ask(n) for n in range(40)))
    refused = {f.api_base: f.errors for f in teacher.figures()}["http://127.0.0.1:9/v1"]
    assert teacher.concurrency == 6 and most[0] <= 6 + refused, \
        "a request waiting for a full endpoint keeps its slot (only a retry after a refusal gives it up)"
    assert first.max_in_flight <= 2 and second.max_in_flight <= 2
    await close_clients()


async def test_a_fleet_where_nothing_answers_stops_at_once_naming_every_endpoint():
    profile = fleet(cooldown=5.0, endpoints=(Endpoint("http://127.0.0.1:9/v1"), Endpoint("http://127.0.0.1:7/v1")))
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        await ask_many(Teacher(profile), range(6))
    assert time.monotonic() - started < 3.0
    error = caught.value
    assert error.fatal and "http://127.0.0.1:9/v1, http://127.0.0.1:7/v1" in error.advice()
    await close_clients()


async def test_one_dead_endpoint_at_the_start_does_not_stop_the_run(servers):
    teacher = Teacher(fleet(servers[0], cooldown=5.0, endpoints=(Endpoint("http://127.0.0.1:9/v1"),
                                                                Endpoint(servers[0].api_base))))
    answers = await ask_many(teacher, range(12))
    assert {answer.endpoint for answer in answers} == {servers[0].api_base}
    assert {f.api_base: f.errors > 0 for f in teacher.figures()} == {"http://127.0.0.1:9/v1": True,
                                                                    servers[0].api_base: False}
    await close_clients()


# ----- whole runs -------------------------------------------------------------------------------


async def test_a_run_survives_an_endpoint_stopped_mid_run_and_records_who_answered(servers, tmp_path):
    first, second = servers[:2]
    events = []

    async def stop_second_after_some_answers():
        await eventually(lambda: len(second.answered()) >= 10, 30)
        second.stop()

    stopper = asyncio.create_task(stop_second_after_some_answers())
    run_id, result = await start(tmp_path / "lab.db", fleet(first, second), events,
                                 counts={"contexts": 2, "questions": 2})
    await stopper
    await close_clients()
    db = open_db(tmp_path / "lab.db")
    assert result.status == "completed" and not result.failures, result.failures
    endpoints = Counter(row[0] for row in db.execute("SELECT endpoint FROM requests WHERE run_id = ?", [run_id]))
    assert set(endpoints) == {first.api_base, second.api_base} and endpoints[second.api_base] >= 10
    assert db.execute("SELECT count(*) FROM requests WHERE response IS NULL").fetchone()[0] == 0
    assert not answered_twice(first), "the survivor answered nothing twice"
    last = [e for e in events if isinstance(e, RunProgress)][-1]
    figures = {f.api_base: f for f in last.endpoints}
    assert figures[second.api_base].errors >= 1 and figures[first.api_base].errors == 0
    assert sum(f.answered for f in figures.values()) == sum(endpoints.values())
    assert saved_progress(db, run_id)[0].endpoints == last.endpoints, "another process reads the same figures"


async def test_resume_over_a_changed_endpoint_list_sends_only_what_has_no_answer(servers, tmp_path):
    first, second, third = servers
    cancel = asyncio.Event()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, RunProgress) and event.requests_done >= 12:
            cancel.set()

    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, fleet(first, second),
                       RunParams(concurrency=8, counts={"contexts": 2, "questions": 2}))
    result = await run_flow(db_path, run_id, on_event=on_event, cancel=cancel)
    assert result.status == "cancelled"
    before = {s.api_base: len(s.answered()) for s in servers}
    result = await run_flow(db_path, run_id, profile=fleet(second, third), concurrency=8)
    await close_clients()
    assert result.status == "completed" and not result.failures
    assert len(first.answered()) == before[first.api_base], "the removed endpoint is not asked again"
    assert len(third.answered()) > 0, "the added endpoint takes its share"
    assert not answered_twice(first, second, third), "nothing answered before the resume is asked again"
    db = open_db(db_path)
    used = {row[0] for row in db.execute("SELECT DISTINCT endpoint FROM requests WHERE run_id = ?", [run_id])}
    assert used == {first.api_base, second.api_base, third.api_base}


async def test_no_key_reaches_the_database_the_log_or_an_export(servers, tmp_path, monkeypatch):
    secret = "sk-fleet-9f8e7d6c5b4a"
    monkeypatch.setenv("FLEET_KEY", secret)
    first, second = servers[:2]
    second.config.faults = [Fault("auth")]
    profile = fleet(first, second, endpoints=(Endpoint(first.api_base, "FLEET_KEY", 4),
                                              Endpoint(second.api_base, "FLEET_KEY", 4)))
    with pytest.raises(RunAborted):
        await start(tmp_path / "lab.db", profile, counts={"contexts": 1, "questions": 1})
    second.config.faults = []
    run_id = [row[0] for row in open_db(tmp_path / "lab.db").execute("SELECT id FROM runs")][0]
    result = await run_flow(tmp_path / "lab.db", run_id, profile=profile)
    await close_clients()
    assert result.status == "completed"
    assert main(["export", "--run", run_id, "--status", "all", "--format", "jsonl", "-o", str(tmp_path / "out.jsonl"),
                 "--db", str(tmp_path / "lab.db")]) == 0
    for path in (tmp_path / "lab.db", tmp_path / "lab.db-wal", log_path(), tmp_path / "out.jsonl"):
        if path.exists():
            assert secret.encode() not in path.read_bytes(), path


def test_teacher_check_asks_every_endpoint_and_says_which_answer(servers, capsys):
    settings(fleet={"model": "openai/teacher", "endpoints": [{"api_base": servers[0].api_base},
                                                             {"api_base": "http://127.0.0.1:9/v1"},
                                                             {"api_base": servers[1].api_base}]})
    assert main(["teacher", "check", "--profile", "fleet"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"teacher openai/teacher at {servers[0].api_base}: answers")
    assert lines[1].startswith("teacher openai/teacher at http://127.0.0.1:9/v1: does not answer")
    assert lines[2].startswith(f"teacher openai/teacher at {servers[1].api_base}: answers")
    assert lines[3] == "2 of 3 endpoints answer"
    assert len(servers[0].log) == len(servers[1].log) == 1


def test_one_server_options_are_refused_for_a_profile_with_endpoints():
    settings(fleet={"model": "openai/granite", "endpoints": [{"api_base": "http://a:8000/v1"}]})
    for option in ({"api_base": "http://b:8000/v1"}, {"api_key_env": "OTHER_KEY"}):
        with pytest.raises(ProfileError, match="lists its endpoints"):
            load_profile("fleet", **option)


def test_lab_tui_run_over_two_endpoints_summarises_each_one(servers, tmp_path, capsys):
    settings(fleet={"model": "openai/teacher", "endpoints": [{"api_base": s.api_base, "max_concurrency": 2}
                                                             for s in servers[:2]]})
    assert main(["run", str(example_skill_path()), "--profile", "fleet", "--contexts", "1", "--questions", "1",
                 "--db", str(tmp_path / "lab.db")]) == 0
    out = capsys.readouterr().out
    assert "endpoint" in out and "req/s" in out
    for server in servers[:2]:
        line = next(line for line in out.splitlines() if server.api_base in line)
        assert line.split()[-1] == "ok" and int(line.split()[-3]) > 0, line
