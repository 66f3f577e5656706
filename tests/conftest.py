"""Every test gets its own LAB_TUI_HOME so nothing touches the real home directory."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def lab_home(tmp_path, monkeypatch):
    home = tmp_path / "lab-home"
    monkeypatch.setenv("LAB_TUI_HOME", str(home))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    return home
