from __future__ import annotations

import pytest
from teacher_server import TeacherConfig, TeacherServer


@pytest.fixture
def teacher_server():
    """A fresh fake teacher on 127.0.0.1; tests adjust `server.config` before sending."""
    with TeacherServer(TeacherConfig()) as server:
        yield server
