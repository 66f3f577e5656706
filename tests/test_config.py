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
