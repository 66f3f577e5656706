"""Every test gets its own LAB_TUI_HOME so nothing touches the real home directory; the suite's
helpers (teacher_server, waiting) import by name from any test folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def lab_home(tmp_path, monkeypatch):
    home = tmp_path / "lab-home"
    monkeypatch.setenv("LAB_TUI_HOME", str(home))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    return home
