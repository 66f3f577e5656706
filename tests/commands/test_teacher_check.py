"""`lab-tui teacher check`: fast and plain when nothing listens; the request's own latency when it answers."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from teacher_server import TeacherConfig, TeacherServer

from lab_tui.cli import main


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_nothing_listening_is_said_within_two_seconds_with_how_to_start_a_teacher(capsys):
    """It said "litellm.InternalServerError: ... Connection error" after 7 s."""
    port = free_port()
    started = time.monotonic()
    assert main(["teacher", "check", "--api-base", f"http://127.0.0.1:{port}/v1"]) == 1
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert elapsed < 2.0, elapsed
    assert out.count("\n") == 1 and f"nothing listens at 127.0.0.1:{port}" in out
    assert "ilab model serve" in out and f"vllm serve <model> --port {port}" in out
    assert "InternalServerError" not in out


def test_the_latency_shown_is_the_requests_not_the_import(tmp_path):
    """A fresh process pays seconds to import litellm; that used to be reported as the teacher's latency."""
    with TeacherServer(TeacherConfig(latency=0.0)) as server:
        out = subprocess.run([sys.executable, "-m", "lab_tui", "teacher", "check", "--api-base", server.api_base],
                             capture_output=True, text=True, timeout=120,
                             env={"LAB_TUI_HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                  "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr
    seconds = float(re.search(r"answers \(([\d.]+) s\)", out.stdout).group(1))
    assert seconds < 1.0, out.stdout
