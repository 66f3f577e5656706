"""A teacher whose error echoes the Authorization header never gets the key stored, logged or printed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from teacher_server import Fault

from lab_tui.pipeline.teacher import Teacher, TeacherError, TeacherProfile, close_clients
from lab_tui.resources import example_skill_path

KEY = "sk-live-0123456789abcdefSECRET"
ASK = [{"role": "user", "content": "Write it between [Start of Context] and [End of Context]."}]


async def test_an_echoed_key_is_redacted_from_the_teacher_error(teacher_server, monkeypatch):
    monkeypatch.setenv("LAB_TUI_TEST_TEACHER_KEY", KEY)
    teacher_server.config.faults = [Fault("auth_echo")]
    profile = TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base,
                             api_key_env="LAB_TUI_TEST_TEACHER_KEY", timeout=5)
    with pytest.raises(TeacherError) as caught:
        await Teacher(profile).complete(ASK, temperature=0.7, max_tokens=100)
    await close_clients()
    assert caught.value.kind == "auth"
    assert "Incorrect API key provided" in caught.value.message
    assert KEY not in str(caught.value) and "SECRET" not in str(caught.value)
    assert "Bearer [redacted]" in caught.value.message


def test_run_and_teacher_check_keep_an_echoed_key_out_of_the_database_output_and_log(teacher_server, tmp_path):
    teacher_server.config.faults = [Fault("auth_echo", times=10_000)]
    env = dict(os.environ, LAB_TUI_HOME=str(tmp_path / "home"), LAB_TUI_TEST_TEACHER_KEY=KEY)
    db = tmp_path / "lab.db"
    common = ["--api-base", teacher_server.api_base, "--api-key-env", "LAB_TUI_TEST_TEACHER_KEY"]
    run = subprocess.run([sys.executable, "-m", "lab_tui", "run", str(example_skill_path()), *common,
                          "--contexts", "2", "--questions", "1", "--db", str(db)],
                         capture_output=True, text=True, env=env, timeout=120)
    check = subprocess.run([sys.executable, "-m", "lab_tui", "teacher", "check", *common],
                           capture_output=True, text=True, env=env, timeout=120)
    assert check.returncode == 1 and "auth" in check.stdout
    stored = sqlite3.connect(db)
    texts = [row[0] or "" for row in stored.execute("SELECT error FROM requests UNION ALL SELECT reason FROM rows")]
    stored.close()
    assert any("Incorrect API key provided" in text for text in texts)
    log = tmp_path / "home" / "data" / "lab-tui.log"
    everything = run.stdout + run.stderr + check.stdout + check.stderr + "".join(texts)
    everything += log.read_text() if log.exists() else ""
    assert "SECRET" not in everything
