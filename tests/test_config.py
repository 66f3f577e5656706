import os
import stat

import pytest

from lab_tui import config
from lab_tui.cli import main


def test_lab_tui_home_relocates_every_path(lab_home):
    assert config.default_db_path() == lab_home / "data" / "lab.db"
    assert config.settings_path() == lab_home / "config" / "settings.json"


def test_settings_round_trip_keeps_unknown_keys(lab_home):
    config.settings_path().write_text('{"theme": "lab-dark", "someone_elses": 1}')
    settings = config.load_settings()
    settings.set("theme", "lab-light")
    assert config.load_settings().values == {"theme": "lab-light", "someone_elses": 1}


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["lint", "--no-such-flag"]) == 2


@pytest.mark.parametrize(("text", "where"), [
    ('{"teachers": {"big": {"model": "openai/x"}},\n "theme": "lab-light",,}', "at line 2, column 23"),
    ('{"teachers": [], "recent": ["/a"]}', '"teachers" must be'),
    ('{"recent": 5}', '"recent" must be'),
    ('{"keymap": {"seeds.save": 5}}', '"keymap" must be'),
    ('[1, 2]', "must hold a JSON object"),
])
def test_a_settings_file_that_cannot_be_used_is_never_written_over(text, where):
    path = config.settings_path()
    path.write_text(text)
    settings = config.load_settings()
    assert where in settings.problem and str(path) in settings.problem
    assert settings.set("recent", ["/b"]) is False and settings.get("recent") == ["/b"]
    assert path.read_text() == text


def test_the_cli_says_what_is_wrong_with_the_settings_on_stderr(capsys, tmp_path):
    config.settings_path().write_text('{"teachers": {')
    assert main(["lint", str(tmp_path / "missing.yaml")]) == 2
    assert "settings.json is not valid JSON at line 1" in capsys.readouterr().err


def test_saves_keep_mode_line_endings_and_symlinks(tmp_path):
    target = tmp_path / "real.txt"
    target.write_bytes(b"a\r\nb\r\n")
    target.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    config.write_atomic(link, "a\nc\n")
    assert link.is_symlink() and target.read_bytes() == b"a\r\nc\r\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    fresh = tmp_path / "fresh.txt"
    old = os.umask(0o027)
    try:
        config.write_atomic(fresh, "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640 and fresh.read_bytes() == b"x\n"
