"""The teacher client over litellm's real HTTP path, against the suite's own server."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from teacher_server import Fault

from lab_tui.config import Settings, save_settings
from lab_tui.pipeline.teacher import (PrioritySlots, ProfileError, Teacher, TeacherError, TeacherProfile, close_clients,
                                      load_profile)

ASK = [{"role": "user", "content": "Write it between [Start of Context] and [End of Context]."}]


def teacher(api_base: str, **kwargs) -> Teacher:
    values = dict(model="openai/teacher", api_base=api_base, timeout=5, backoff_base=0.01, max_attempts=4)
    values.update(kwargs)
    return Teacher(TeacherProfile(**values))


async def test_answer_carries_text_tokens_and_attempts(teacher_server):
    answer = await teacher(teacher_server.api_base).complete(ASK, temperature=0.7, max_tokens=100)
    assert answer.text.startswith("[Start of Context]") and answer.finish_reason == "stop"
    assert answer.tokens_in > 0 and answer.tokens_out > 0 and answer.attempts == 1
    await close_clients()


async def test_429_is_retried_after_retry_after_and_500_is_retried(teacher_server):
    teacher_server.config.faults = [Fault("429", times=2, retry_after=0.3), Fault("500")]
    started = time.monotonic()
    answer = await teacher(teacher_server.api_base).complete(ASK, temperature=0.7, max_tokens=100)
    assert answer.attempts == 4
    assert time.monotonic() - started >= 0.6
    assert [entry.status for entry in teacher_server.log] == [429, 429, 500, 200]


async def test_auth_error_fails_at_once(teacher_server):
    teacher_server.config.faults = [Fault("auth", times=5)]
    with pytest.raises(TeacherError) as caught:
        await teacher(teacher_server.api_base).complete(ASK, temperature=0.7, max_tokens=100)
    assert caught.value.kind == "auth" and caught.value.attempts == 1
    assert len(teacher_server.log) == 1


async def test_an_auth_error_with_the_key_variable_unset_says_so(teacher_server, monkeypatch):
    monkeypatch.delenv("LAB_TUI_TEST_TEACHER_KEY", raising=False)
    teacher_server.config.faults = [Fault("auth")]
    with pytest.raises(TeacherError, match="LAB_TUI_TEST_TEACHER_KEY is not set"):
        await teacher(teacher_server.api_base, api_key_env="LAB_TUI_TEST_TEACHER_KEY").complete(
            ASK, temperature=0.7, max_tokens=100)
    monkeypatch.setenv("LAB_TUI_TEST_TEACHER_KEY", "sk-wrong")
    teacher_server.config.faults = [Fault("auth")]
    with pytest.raises(TeacherError) as caught:
        await teacher(teacher_server.api_base, api_key_env="LAB_TUI_TEST_TEACHER_KEY").complete(
            ASK, temperature=0.7, max_tokens=100)
    assert "is not set" not in str(caught.value)
    await close_clients()


async def test_once_the_teacher_has_answered_a_timeout_is_retried_within_the_attempt_limit(teacher_server):
    client = teacher(teacher_server.api_base, timeout=1)
    await client.complete(ASK, temperature=0.7, max_tokens=100)
    teacher_server.config.faults = [Fault("timeout", times=1, retry_after=3.0)]
    answer = await client.complete(ASK, temperature=0.5, max_tokens=100)
    assert answer.attempts == 2


async def test_a_teacher_that_never_answered_fails_fast_and_says_what_to_do(teacher_server):
    teacher_server.config.faults = [Fault("timeout", times=1, retry_after=3.0)]
    with pytest.raises(TeacherError) as hanging:
        await teacher(teacher_server.api_base, timeout=1).complete(ASK, temperature=0.7, max_tokens=100)
    assert hanging.value.kind == "timeout" and hanging.value.attempts == 1 and hanging.value.fatal
    assert "within the profile's timeout" in hanging.value.advice()
    with pytest.raises(TeacherError) as refused:
        await teacher("http://127.0.0.1:9/v1", max_attempts=2).complete(ASK, temperature=0.7, max_tokens=10)
    assert refused.value.kind == "connection" and refused.value.attempts == 1 and refused.value.fatal
    assert "Nothing answers at http://127.0.0.1:9/v1" in refused.value.advice()
    assert "ilab model serve" in refused.value.advice()


async def served_order(slots: PrioritySlots, waiting: list[tuple[int, str]], reverse: bool = False) -> list[str]:
    """The order in which requests that all wait for one held slot get it (`reverse` first, if asked)."""
    order = []
    await slots.acquire(0)

    async def wait(priority, name):
        await slots.acquire(priority)
        order.append(name)
        slots.release()

    waiters = [asyncio.create_task(wait(priority, name)) for priority, name in waiting]
    while len(slots.waiters) < len(waiters):  # every request is queued before the slot frees
        await asyncio.sleep(0)
    if reverse:
        slots.reverse()
    slots.release()
    await asyncio.gather(*waiters)
    return order


async def test_deeper_blocks_get_a_free_slot_first_and_ties_keep_their_order():
    slots = PrioritySlots(1)
    order = await served_order(slots, [(0, "context 2"), (-1, "questions"), (0, "context 3"), (-4, "pair judge")])
    assert order == ["pair judge", "questions", "context 2", "context 3"]
    assert slots.free == 1


def test_profile_names_the_key_variable_and_never_holds_the_key(monkeypatch):
    monkeypatch.setenv("MY_TEACHER_KEY", "sk-secret")
    profile = load_profile(api_key_env="MY_TEACHER_KEY")
    assert profile.api_key() == "sk-secret"
    assert "sk-secret" not in repr(profile.public())
    assert load_profile().api_base == "http://127.0.0.1:8000/v1"


@pytest.mark.parametrize("field, value, message", [
    ("timeout", "120", "timeout is '120', not a number above 0"),
    ("timeout", None, "timeout is None, not a number above 0"),
    ("timeout", 0, "timeout is 0, not a number above 0"),
    ("backoff_cap", -1, "backoff_cap is -1, not a number of at least 0"),
    ("max_attempts", 2.5, "max_attempts is 2.5, not a whole number of at least 1"),
    ("max_concurrency", True, "max_concurrency is True, not a whole number of at least 1"),
])
def test_a_profile_whose_numbers_are_not_numbers_is_refused_before_anything_is_sent(field, value, message):
    save_settings(Settings({"teachers": {"odd": {"model": "openai/teacher", field: value}}}))
    with pytest.raises(ProfileError, match=re.escape(message)):
        load_profile("odd")


@pytest.mark.parametrize("fault", ["bad_request", "context_window"])
async def test_bad_requests_and_context_window_errors_fail_at_once_with_their_kind(teacher_server, fault):
    teacher_server.config.faults = [Fault(fault, times=5)]
    with pytest.raises(TeacherError) as caught:
        await teacher(teacher_server.api_base).complete(ASK, temperature=0.7, max_tokens=100)
    assert caught.value.kind == fault and caught.value.attempts == 1
    assert len(teacher_server.log) == 1
    await close_clients()


async def test_once_reversed_the_longest_way_to_go_is_served_first_waiters_included():
    order = await served_order(PrioritySlots(1), [(-4, "pair judge"), (0, "context"), (-1, "questions")], reverse=True)
    assert order == ["context", "questions", "pair judge"]
