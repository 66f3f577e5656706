"""Every test gets its own LAB_TUI_HOME so nothing touches the real home directory; the suite's
helpers (teacher_server, waiting) import by name from any test folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from teacher_server import TeacherConfig, TeacherServer  # noqa: E402


@pytest.fixture(autouse=True)
def lab_home(tmp_path, monkeypatch):
    home = tmp_path / "lab-home"
    monkeypatch.setenv("LAB_TUI_HOME", str(home))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    return home


@pytest.fixture
def teacher_server():
    """A fresh fake teacher on 127.0.0.1; tests adjust `server.config` before sending."""
    with TeacherServer(TeacherConfig()) as server:
        yield server
