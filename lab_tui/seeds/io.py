"""Open and save a skill in whichever format its file uses."""

from __future__ import annotations

import shutil
from pathlib import Path

from lab_tui.config import write_atomic
from lab_tui.seeds.jsonl import dump_jsonl_skill, parse_jsonl_skill
from lab_tui.seeds.model import Finding, Skill
from lab_tui.seeds.yamlio import LoadResult, dump_yaml_skill, parse_yaml_skill

SEED_SUFFIXES = (".yaml", ".yml", ".jsonl")


def is_jsonl(path: Path | str | None) -> bool:
    return path is not None and str(path).endswith(".jsonl")


def parse_skill_text(text: str, path: Path | str | None = None) -> LoadResult:
    path = Path(path) if path is not None else None
    return parse_jsonl_skill(text, path) if is_jsonl(path) else parse_yaml_skill(text, path)


def load_skill(path: Path | str) -> LoadResult:
    """Read a skill file; never raises for a bad file, it reports a finding instead."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        before = error.object[:error.start]
        line, column = before.count(b"\n") + 1, error.start - (before.rfind(b"\n") + 1) + 1
        return LoadResult(None, [Finding("file/encoding", "error",
                                         f"The file is not UTF-8 text (byte {error.start} cannot be decoded).",
                                         line=line, column=column)])
    except OSError as error:
        return LoadResult(None, [Finding("file/unreadable", "error", f"The file cannot be read: {error.strerror}.")])
    return parse_skill_text(text, path)


def dump_skill(skill: Skill) -> str:
    return dump_jsonl_skill(skill) if skill.format == "jsonl" else dump_yaml_skill(skill)


def save_skill(skill: Skill, path: Path | str | None = None) -> Path:
    """Write atomically, keeping the previous content as `<file>.bak`."""
    path = Path(path or skill.path)
    text = dump_skill(skill)
    if path.exists():
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    write_atomic(path, text)
    skill.path = path
    skill.saved_as(text)
    return path


def upgrade_to_v3(skill: Skill) -> None:
    """Versions 1 and 2 differ from 3 only by the `version` key, which the next save writes."""
    skill.version = 3
    if "version" not in skill.key_order:
        skill.key_order.insert(0, "version")
