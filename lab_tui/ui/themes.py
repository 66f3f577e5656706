"""Themes are YAML files in `themes/` (and the user's config dir), turned into Textual themes.

A theme file is the user's text: one that does not parse, names an unknown key, holds a colour
Textual cannot read or a name that is not plain is refused with a `ThemeError` saying which and
where, and the app starts without it. Names are letters, digits, spaces, `-`, `_` and `.`, so a
name is never read as markup (`[@click=...]`) wherever Textual shows it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from textual.color import Color, ColorParseError
from textual.theme import Theme

from lab_tui.config import config_dir
from lab_tui.errors import UserError
from lab_tui.resources import data_folder

DEFAULT_THEME = "lab-dark"
COLOUR_FIELDS = {"primary", "secondary", "accent", "foreground", "background", "surface", "panel", "boost",
                 "success", "warning", "error"}
THEME_FIELDS = {"name", "dark", "variables"} | COLOUR_FIELDS
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}")


class ThemeError(UserError, ValueError):
    """A theme file lab-tui skips; the message names the file and what is wrong."""

    title = "Theme skipped"


def load_theme(path: Path) -> Theme:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as error:
        raise ThemeError(f"{path.name} cannot be read: {getattr(error, 'strerror', None) or error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ThemeError(f"{path.name} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ThemeError(f"{path.name} must be a mapping of theme keys")
    unknown = set(map(str, data)) - THEME_FIELDS
    if unknown:
        raise ThemeError(f"{path.name}: unknown theme keys {', '.join(sorted(unknown))}")
    data.setdefault("name", path.stem)
    if not isinstance(data["name"], str) or not PLAIN_NAME.fullmatch(data["name"]):
        raise ThemeError(f"{path.name}: the name must be up to 40 letters, digits, spaces, '-', '_' or '.'")
    if "primary" not in data:
        raise ThemeError(f"{path.name}: primary (the main colour) is missing")
    for field in sorted(COLOUR_FIELDS & set(data)):
        if not _is_colour(data[field]):
            raise ThemeError(f"{path.name}: {field} is not a colour (use #rrggbb or a colour name)")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeError(f"{path.name}: variables must map names to text values")
    if not isinstance(data.get("dark", True), bool):
        raise ThemeError(f"{path.name}: dark must be true or false")
    return Theme(**data)


def _is_colour(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        Color.parse(value)
    except ColorParseError:
        return False
    return True


def theme_files() -> list[Path]:
    """Bundled themes first, then the user's own (`<config dir>/themes/*.yaml`), which may override."""
    folders = [data_folder("themes"), config_dir() / "themes"]
    return [path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*.yaml"))]
