"""Mechanical fixes the Seeds pane offers for findings that have exactly one right answer."""

from __future__ import annotations

from pathlib import Path

from lab_tui.seeds.io import dump_skill, parse_skill_text, upgrade_to_v3
from lab_tui.seeds.model import Finding, Skill
from lab_tui.seeds.yamlio import restyle_as_block

FIX_LABELS = {
    "trailing-spaces": "remove trailing spaces",
    "final-newline": "end the file with exactly one newline",
    "quote-scalar": "store the value as text",
    "block-style": "write the multi-line value as a | block",
    "key-order": "put the keys in the template's order",
    "upgrade-to-v3": "upgrade the file to version 3",
}
TEXT_FIXES = ("trailing-spaces", "final-newline")


def fix_text(text: str, fix: str, finding: Finding | None = None) -> str:
    """Fixes that edit the file's lines and nothing else."""
    if fix == "trailing-spaces":
        return "\n".join(line.rstrip() for line in text.split("\n"))
    if fix == "final-newline":
        return text.rstrip("\n") + "\n"
    if fix == "block-style" and finding is not None and finding.field:
        return restyle_as_block(text, finding.example, finding.field)
    raise ValueError(f"{fix} is not a text fix")


def _fix_skill(skill: Skill, fix: str) -> Skill:
    """Fixes that change the skill as a whole; the result is dumped in the taxonomy's style."""
    fixed = parse_skill_text(dump_skill(skill), skill.path).skill
    if fix == "upgrade-to-v3":
        upgrade_to_v3(fixed)
    elif fix == "quote-scalar":
        # Loading already turned the value into text; writing it back quotes it where YAML needs to.
        fixed.source_text = None
    elif fix == "key-order":
        fixed.key_order = []
        for example in fixed.examples:
            example.key_order = []
        fixed.source_text = None
    else:
        raise ValueError(f"{fix} is not a known fix")
    return fixed


def apply_fix(skill_or_text: Skill | str, finding: Finding, path: Path | str | None = None) -> Skill | str:
    """The finding's fix applied to a skill (returns a new skill) or to a file's text (returns text).

    The input is left as it was, so the pane can offer undo by keeping the old value.
    """
    fix = finding.fix
    if fix is None or fix not in FIX_LABELS:
        raise ValueError(f"{finding.rule} has no mechanical fix")
    if isinstance(skill_or_text, str):
        if fix in TEXT_FIXES or fix == "block-style":
            return fix_text(skill_or_text, fix, finding)
        skill = parse_skill_text(skill_or_text, path).skill
        if skill is None:
            raise ValueError("the text is not a skill, so only line fixes apply")
        return dump_skill(_fix_skill(skill, fix))
    skill = skill_or_text
    if fix in TEXT_FIXES or fix == "block-style":
        fixed = parse_skill_text(fix_text(dump_skill(skill), fix, finding), skill.path).skill
        fixed.path, fixed.format = skill.path, skill.format
        return fixed
    return _fix_skill(skill, fix)
