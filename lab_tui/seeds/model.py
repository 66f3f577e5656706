"""The skill as lab-tui sees it: a task description and its seed examples.

One model serves every on-disk format (qna.yaml v1-v3, the notebooks' seed JSONL) so the
linter, the Seeds pane and the pipeline never care where a skill came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning", "info"]
SkillFormat = Literal["qna_yaml", "jsonl"]


@dataclass
class SeedExample:
    question: str = ""
    answer: str = ""
    context: str | None = None
    extra: dict = field(default_factory=dict)
    """Keys the file had that lab-tui does not edit, kept so a save loses nothing."""
    key_order: list[str] = field(default_factory=list)
    """Key order as read, so a save does not reorder a contributor's example."""
    source_index: int | None = None
    """Where the example stands in the skill's `source_text` (None: new), so a save moves its text as is."""

    def copy(self) -> "SeedExample":
        """A new example with the same values (a new one in the file, not a second copy of the old text)."""
        return SeedExample(self.question, self.answer, self.context, dict(self.extra), list(self.key_order))


@dataclass
class Skill:
    task_description: str = ""
    created_by: str = ""
    examples: list[SeedExample] = field(default_factory=list)
    version: int | None = 3
    """The version the file declared (None: the first format, which had no `version` key)."""
    path: Path | None = None
    format: SkillFormat = "qna_yaml"
    extra: dict = field(default_factory=dict)
    """Top-level keys lab-tui does not edit (kept, and reported by the linter if unknown)."""
    key_order: list[str] = field(default_factory=list)
    """Top-level key order as read, so a round trip does not reorder a contributor's file."""
    source_text: str | None = field(default=None, repr=False)
    """The text the skill was read from: saving edits it in place instead of re-dumping it."""

    def saved_as(self, text: str) -> None:
        """The file now holds `text`: the examples are numbered as they stand in it."""
        self.source_text = text
        for index, example in enumerate(self.examples):
            example.source_index = index

    @property
    def grounded(self) -> bool:
        return any(example.context for example in self.examples)


@dataclass(frozen=True)
class Finding:
    """One lint finding, located as precisely as the file allows."""

    rule: str
    severity: Severity
    message: str
    example: int | None = None
    """0-based index into `Skill.examples`, or None for the skill as a whole."""
    field: str | None = None
    line: int | None = None
    """1-based line in the file (or in the skill as it would be saved) where known."""
    column: int | None = None
    fix: str | None = None
    """Name of a mechanical fix the Seeds pane can apply (see `lab_tui.seeds.fixes`)."""

    def as_json(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "example": self.example,
            "field": self.field,
            "line": self.line,
        }
