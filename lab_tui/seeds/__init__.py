"""Skills and their seed examples: reading, writing and linting them."""

from lab_tui.seeds.fixes import FIX_LABELS, apply_fix
from lab_tui.seeds.io import SEED_SUFFIXES, dump_skill, load_skill, parse_skill_text, save_skill, upgrade_to_v3
from lab_tui.seeds.lint import lint_path, lint_skill, lint_text
from lab_tui.seeds.model import Finding, SeedExample, Skill
from lab_tui.seeds.yamlio import LoadResult

__all__ = [
    "FIX_LABELS", "SEED_SUFFIXES", "Finding", "LoadResult", "SeedExample", "Skill", "apply_fix", "dump_skill",
    "lint_path", "lint_skill", "lint_text", "load_skill", "parse_skill_text", "save_skill", "upgrade_to_v3",
]
