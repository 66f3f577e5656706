"""Mechanical fixes the Seeds pane offers for findings that have exactly one right answer."""

from __future__ import annotations

from lab_tui.seeds.io import dump_skill, parse_skill_text, upgrade_to_v3
from lab_tui.seeds.model import Finding, Skill

FIX_LABELS = {
    "trailing-spaces": "remove trailing spaces",
    "final-newline": "end the file with exactly one newline",
    "quote-scalar": "store the value as text",
    "upgrade-to-v3": "upgrade the file to version 3",
}


def fix_text(text: str, fix: str) -> str:
    if fix == "trailing-spaces":
        return "\n".join(line.rstrip() for line in text.split("\n"))
    if fix == "final-newline":
        return text.rstrip("\n") + "\n"
    raise ValueError(f"{fix} is not a text fix")


def apply_fix(skill: Skill, finding: Finding) -> Skill:
    """Return the skill with the finding's fix applied (the skill passed in is left as it was)."""
    if finding.fix is None:
        raise ValueError(f"{finding.rule} has no mechanical fix")
    text = dump_skill(skill)
    if finding.fix == "upgrade-to-v3":
        fixed = parse_skill_text(text, skill.path).skill
        upgrade_to_v3(fixed)
        return fixed
    if finding.fix == "quote-scalar":
        # Loading already turned the value into text; writing it back quotes it where YAML needs to.
        fixed = parse_skill_text(text, skill.path).skill
        fixed.source_text = None
        return fixed
    fixed = parse_skill_text(fix_text(text, finding.fix), skill.path).skill
    fixed.path, fixed.format = skill.path, skill.format
    return fixed
