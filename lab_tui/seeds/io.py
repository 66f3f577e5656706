"""Open and save a skill in whichever format its file uses.

A save never drops someone else's edit silently: what the file was when read (`FileStamp`) is
checked before writing, and a file changed since (a second editor, a `git checkout`) raises
`FileChanged` so the user chooses. The previous content is kept as `<file>.bak`, written
atomically like the file itself, so a save that fails (a full disk) leaves both whole.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lab_tui.config import write_atomic
from lab_tui.errors import UserError
from lab_tui.seeds.jsonl import dump_jsonl_skill, parse_jsonl_skill
from lab_tui.seeds.model import Finding, Skill
from lab_tui.seeds.yamlio import LoadResult, dump_yaml_skill, parse_yaml_skill

SEED_SUFFIXES = (".yaml", ".yml", ".jsonl")


@dataclass(frozen=True)
class FileStamp:
    """A file's content as lab-tui last read or wrote it."""

    mtime_ns: int
    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path, data: bytes) -> "FileStamp":
        return cls(path.stat().st_mtime_ns, len(data), hashlib.sha256(data).hexdigest())


UNCHECKED = object()
"""`expected` for a save that need not check the file (e.g. saving elsewhere, chosen by the user)."""


class FileChanged(UserError):
    """The file is not what was read: someone else changed (or removed, or created) it meanwhile."""

    title = "File changed on disk"

    def __init__(self, path: Path, expected: FileStamp | None, now: FileStamp | None) -> None:
        if now is None:
            what = "was removed"
        else:
            what = f"{'was created' if expected is None else 'changed'} on disk at " \
                   f"{datetime.fromtimestamp(now.mtime_ns / 1e9):%H:%M:%S}"
        super().__init__(f"{path} {what} since it was opened")
        self.path = path


def read_text(path: Path) -> tuple[str, FileStamp]:
    """A file's text with universal newlines (CRLF read as LF; saving writes them back), and its stamp."""
    data = path.read_bytes()
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), FileStamp.of(path, data)


def save_text(path: Path | str, text: str, expected: FileStamp | None | object = UNCHECKED) -> FileStamp:
    """Write `text` atomically, keeping the old content as `<file>.bak`; returns the new stamp.

    `expected` is the stamp from when the file was read (None: it did not exist); a file whose
    content differs now raises `FileChanged` and nothing is written.
    """
    path = Path(path)
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        current = None
    if expected is not UNCHECKED:
        now = FileStamp.of(path, current) if current is not None else None
        if (now and now.sha256) != (expected and expected.sha256):
            raise FileChanged(path, expected, now)
    if current is not None:
        write_atomic(path.with_name(path.name + ".bak"), current)
    write_atomic(path, text)
    return FileStamp.of(path, path.read_bytes())


def is_jsonl(path: Path | str | None) -> bool:
    return path is not None and str(path).endswith(".jsonl")


def parse_skill_text(text: str, path: Path | str | None = None) -> LoadResult:
    path = Path(path) if path is not None else None
    return parse_jsonl_skill(text, path) if is_jsonl(path) else parse_yaml_skill(text, path)


def load_skill(path: Path | str) -> LoadResult:
    """Read a skill file; never raises for a bad file, it reports a finding instead."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or a named pipe that would block the read forever
        return LoadResult(None, [Finding("file/unreadable", "error", "This is not a regular file, so it is not read.")])
    try:
        text, stamp = read_text(path)
    except UnicodeDecodeError as error:
        before = error.object[:error.start]
        line, column = before.count(b"\n") + 1, error.start - (before.rfind(b"\n") + 1) + 1
        return LoadResult(None, [Finding("file/encoding", "error",
                                         f"The file is not UTF-8 text (byte {error.start} cannot be decoded).",
                                         line=line, column=column)])
    except OSError as error:
        return LoadResult(None, [Finding("file/unreadable", "error", f"The file cannot be read: {error.strerror}.")])
    result = parse_skill_text(text, path)
    result.stamp = stamp
    return result


def dump_skill(skill: Skill) -> str:
    return dump_jsonl_skill(skill) if skill.format == "jsonl" else dump_yaml_skill(skill)


def save_skill(skill: Skill, path: Path | str | None = None,
               expected: FileStamp | None | object = UNCHECKED) -> FileStamp:
    """Write atomically through `save_text` (`.bak` kept, a changed file refused); returns the new stamp."""
    path = Path(path or skill.path)
    text = dump_skill(skill)
    stamp = save_text(path, text, expected)
    skill.path = path
    skill.saved_as(text)
    return stamp


def upgrade_to_v3(skill: Skill) -> None:
    """Versions 1 and 2 differ from 3 only by the `version` key, which the next save writes."""
    skill.version = 3
    if "version" not in skill.key_order:
        skill.key_order.insert(0, "version")
