"""Where lab-tui keeps things, and the settings file.

`LAB_TUI_HOME` relocates every path at once so tests (and users who want a portable setup)
never touch the real home directory.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "lab-tui"


def _home() -> Path | None:
    value = os.environ.get("LAB_TUI_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    home = _home()
    path = home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    home = _home()
    path = home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    return data_dir() / "lab.db"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def recovery_dir() -> Path:
    """Autosave copies of unsaved edits live here until the user saves or discards them."""
    path = data_dir() / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path() -> Path:
    return data_dir() / "lab-tui.log"


@dataclass
class Settings:
    """User settings as a plain JSON object; unknown keys are kept so nothing a user wrote is lost."""

    values: dict

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def set(self, key: str, value) -> None:
        self.values[key] = value
        save_settings(self)


def load_settings() -> Settings:
    path = settings_path()
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        values = {}
    except (OSError, ValueError):
        values = {}
    return Settings(values if isinstance(values, dict) else {})


def save_settings(settings: Settings) -> None:
    write_atomic(settings_path(), json.dumps(settings.values, indent=2, sort_keys=True) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Write through a temp file in the same directory and rename, so a crash never leaves half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
