"""The entry point's usage rules: a typo of a command and a path that is not there."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lab_tui.cli import COMMANDS, main


def test_an_unknown_subcommand_is_a_usage_error_naming_the_commands_and_never_opens_the_app(tmp_path):
    """Run as a user would, without a terminal: before the fix the app started (and spun) instead."""
    done = subprocess.run([sys.executable, "-m", "lab_tui", "bogus"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "'bogus' is not a command" in done.stderr and ", ".join(COMMANDS) in done.stderr
    assert done.stdout == "" and "\x1b" not in done.stderr
    assert not (tmp_path / "bogus").exists()


@pytest.mark.parametrize("command", ["run", "lint"])
def test_a_path_that_does_not_exist_is_one_usage_error_for_run_and_lint(command, tmp_path, capsys):
    missing = tmp_path / "nonexistent.yaml"
    assert main([command, str(missing), "--db" if command == "run" else "--format",
                 str(tmp_path / "lab.db") if command == "run" else "text"]) == 2
    out, err = capsys.readouterr()
    assert err == f"lab-tui {command}: no such file or directory: {missing}\n"
    assert out == "" and not (tmp_path / "lab.db").exists()
