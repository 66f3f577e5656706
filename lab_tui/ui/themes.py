"""Themes are YAML files in `themes/` (and the user's config dir), turned into Textual themes."""

from __future__ import annotations

from pathlib import Path

import yaml
from textual.theme import Theme

from lab_tui.config import config_dir
from lab_tui.resources import data_folder

DEFAULT_THEME = "lab-dark"
THEME_FIELDS = {"name", "primary", "secondary", "accent", "foreground", "background", "surface", "panel",
                "boost", "success", "warning", "error", "dark", "variables"}


def load_theme(path: Path) -> Theme:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(data) - THEME_FIELDS
    if unknown:
        raise ValueError(f"{path}: unknown theme keys {', '.join(sorted(unknown))}")
    data.setdefault("name", path.stem)
    return Theme(**data)


def theme_files() -> list[Path]:
    """Bundled themes first, then the user's own (`<config dir>/themes/*.yaml`), which may override."""
    folders = [data_folder("themes"), config_dir() / "themes"]
    return [path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*.yaml"))]
