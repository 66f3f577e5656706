"""Autosave copies of unsaved edits, so a crash or a killed terminal loses seconds, not work.

A copy is keyed by the skill file's absolute path and removed when the user saves or discards.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lab_tui.config import recovery_dir, write_atomic


@dataclass(frozen=True)
class Recovery:
    path: Path
    text: str
    saved_at: str


def _slot(path: Path) -> Path:
    digest = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]
    return recovery_dir() / f"{digest}.json"


def write_recovery(path: Path, text: str) -> None:
    record = {"path": str(Path(path).resolve()), "text": text, "saved_at": datetime.now(timezone.utc).isoformat()}
    write_atomic(_slot(path), json.dumps(record))


def read_recovery(path: Path) -> Recovery | None:
    """The autosaved text for `path`, if it differs from what is on disk."""
    try:
        record = json.loads(_slot(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        on_disk = Path(path).read_text(encoding="utf-8")
    except OSError:
        on_disk = None
    if record.get("text") == on_disk:
        discard_recovery(path)
        return None
    return Recovery(Path(record["path"]), record["text"], record.get("saved_at", ""))


def discard_recovery(path: Path) -> None:
    _slot(path).unlink(missing_ok=True)
