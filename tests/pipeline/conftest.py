from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from teacher_server import TeacherConfig, TeacherServer  # noqa: E402


@pytest.fixture
def teacher_server():
    """A fresh fake teacher on 127.0.0.1; tests adjust `server.config` before sending."""
    with TeacherServer(TeacherConfig()) as server:
        yield server
