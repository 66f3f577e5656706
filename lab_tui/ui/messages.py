"""What one pane asks of another, said as a message the app routes (`LabApp`'s `@on` handlers).

No pane calls into another: a pane posts one of these, it bubbles to the app, and the app keeps
the state it names (the open skill, the review filter asked for) and tells the pane concerned.
A pane that is not built yet reads that state when it is first shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual.message import Message

from lab_tui.seeds.io import FileStamp
from lab_tui.seeds.model import SeedExample
from lab_tui.store.review import ReviewFilter


@dataclass
class OpenSkill(Message):
    """Show this skill file in the Seeds pane, at seed example `example` (0-based) if given.

    The Seeds pane asks about its own unsaved edits first; the open skill changes once it shows the file.
    """

    path: Path
    example: int | None = None


@dataclass
class SkillShown(Message):
    """The Seeds pane now shows this file (opened, or saved under a new name): it is the open skill."""

    path: Path


@dataclass
class ReviewPairs(Message):
    """Walk these pairs in the Review pane (a run's, a batch's, a seed example's: any `ReviewFilter`)."""

    filter: ReviewFilter


@dataclass
class SeedFileChanged(Message):
    """A pane wrote a seed file: `before` is the file as that pane read it, `after` as it wrote it,
    `added` the seed examples it appended, so a pane showing the same file loses neither side."""

    path: Path
    before: FileStamp | None
    after: FileStamp
    added: list[SeedExample] = field(default_factory=list)
