"""Where lab-tui keeps things, and the settings file.

`LAB_TUI_HOME` relocates every path at once so tests (and users who want a portable setup)
never touch the real home directory.
"""

from __future__ import annotations

import json
import os
import stat
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


def config_dir(create: bool = True) -> Path:
    home = _home()
    path = home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    return data_dir() / "lab.db"


def settings_path(create_dir: bool = True) -> Path:
    return config_dir(create_dir) / "settings.json"


def recovery_dir() -> Path:
    """Autosave copies of unsaved edits live here until the user saves or discards them."""
    path = data_dir() / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path() -> Path:
    return data_dir() / "lab-tui.log"


SETTING_SHAPES = {
    "teachers": ("an object of teacher profiles, each an object",
                 lambda v: isinstance(v, dict) and all(isinstance(p, dict) for p in v.values())),
    "recent": ("a list of file paths", lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v)),
    "theme": ("a theme name", lambda v: isinstance(v, str)),
    "keymap": ("an object of binding id to key, both strings",
               lambda v: isinstance(v, dict) and all(isinstance(x, str) for pair in v.items() for x in pair)),
}
"""What each setting lab-tui reads must look like; anything else in the file is kept as it is."""


@dataclass
class Settings:
    """User settings as a plain JSON object; unknown keys are kept so nothing a user wrote is lost.

    `problem` says what is wrong with a settings file that does not parse or holds a wrong type,
    and where. Such a file is never written over: lab-tui runs on defaults (for the wrong keys)
    and `set` changes only this session until the user fixes the file.
    """

    values: dict
    problem: str | None = None

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def set(self, key: str, value) -> bool:
        """Change a setting and save it; False (nothing written) when the file could not be read."""
        self.values[key] = value
        if self.problem is not None:
            return False
        save_settings(self)
        return True


def load_settings() -> Settings:
    """The settings file as it is; a file that cannot be used gives defaults and a `problem`.

    Reading creates nothing, so a command that only reads runs under a home it may not write."""
    path = settings_path(create_dir=False)
    try:
        values = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return Settings({})
    except ValueError as error:
        where = f" at line {error.lineno}, column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        return Settings({}, f"{path} is not valid JSON{where} ({reason}): lab-tui uses its defaults and leaves "
                            "the file as it is until you fix it.")
    except OSError as error:
        return Settings({}, f"{path} cannot be read ({error.strerror}): lab-tui uses its defaults and leaves it "
                            "as it is.")
    if not isinstance(values, dict):
        return Settings({}, f"{path} must hold a JSON object, not a {type(values).__name__}: lab-tui uses its "
                            "defaults and leaves the file as it is until you fix it.")
    wrong = [key for key, (_, fits) in SETTING_SHAPES.items() if key in values and not fits(values[key])]
    if wrong:
        problems = "; ".join(f'"{key}" must be {SETTING_SHAPES[key][0]}' for key in wrong)
        return Settings({k: v for k, v in values.items() if k not in wrong},
                        f"{path}: {problems}. lab-tui uses its defaults for {'these' if len(wrong) > 1 else 'it'} "
                        "and leaves the file as it is until you fix it.")
    return Settings(values)


def save_settings(settings: Settings) -> None:
    write_atomic(settings_path(), json.dumps(settings.values, indent=2, sort_keys=True) + "\n")


def write_atomic(path: Path, content: str | bytes, newline: str | None = None) -> None:
    """Write through a temp file in the same directory and rename, so a crash never leaves half a file.

    What the file was stays: a symlink is written through (its target is replaced, the link kept),
    the mode is kept (a new file gets the umask's), and text keeps the file's line endings
    (`newline`, by default CRLF if the file's first line ends so, else LF).
    """
    path = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    if isinstance(content, str):
        if (newline or line_ending(path)) == "\r\n":
            content = content.replace("\r\n", "\n").replace("\n", "\r\n")
        content = content.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def line_ending(path: Path) -> str:
    """"\r\n" when the file's first line ends with CRLF, else "\n" (also for a file that does not exist)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 16)
    except OSError:
        return "\n"
    return "\r\n" if first.endswith(b"\r\n") else "\n"


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (another thread may be creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current
