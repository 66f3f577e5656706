"""A pair as its readers see it: the reviewer's edits over the teacher's text, its judges parsed.

The `pairs` table keeps what the teacher wrote and, beside it, what a reviewer changed; what a
pair *says* is the edit where there is one. That rule lives here once, for the export, the
Review pane and promotion to a seed example alike. Built from a row of the `pairs` table by the
store's read functions (`Pair.from_row`); nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Judge:
    """One judge's verdict on a pair, as the run stored it."""

    judge: str
    """The judge block's name in the run's flow."""
    label: str
    """What the judge is in a user's words ("pair judge"); the flow's label, else the block name."""
    score: float | None
    explanation: str | None

    @property
    def title(self) -> str:
        return self.label or self.judge

    @classmethod
    def parse(cls, stored: object) -> Judge | None:
        """A judge from one entry of the `scores` JSON list; None for an entry that is not one."""
        if not isinstance(stored, dict):
            return None
        score = stored.get("score")
        explanation = stored.get("explanation")
        return cls(judge=str(stored.get("judge") or ""), label=str(stored.get("label") or ""),
                   score=score if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
                   explanation=explanation if isinstance(explanation, str) else None)


def _judges(scores: str | None) -> tuple[Judge, ...]:
    try:
        stored = json.loads(scores or "[]")
    except ValueError:
        return ()
    judges = (Judge.parse(entry) for entry in stored) if isinstance(stored, list) else ()
    return tuple(judge for judge in judges if judge is not None)


def _ontask_scores(stored: str | None) -> dict[str, float]:
    try:
        scores = json.loads(stored or "{}")
    except ValueError:
        return {}
    return {str(name): score for name, score in scores.items()
            if isinstance(score, (int, float)) and not isinstance(score, bool)} if isinstance(scores, dict) else {}


@dataclass(frozen=True)
class Pair:
    """A training pair: the teacher's texts, a reviewer's edits and verdict, the judges' scores."""

    id: str
    run_id: str
    seed_index: int | None
    context: str | None
    """None for a flow without a context (a freeform skill)."""
    original_question: str
    original_response: str
    original_user_turn: str
    """The user message as the run's flow built it (grounded: the context, a blank line, the question)."""
    edited_question: str | None
    edited_response: str | None
    judges: tuple[Judge, ...]
    """In flow order."""
    score: float | None
    """The score of the pair's last judge: what score filters use."""
    outcome: str
    """kept, or filtered (dropped by the pair judge)."""
    status: str
    """The review status: pending, accepted, rejected or skipped."""
    reviewer: str | None
    note: str | None
    version: int
    """Bumped by every verdict: a verdict is only applied to the version the reviewer saw."""
    claimed_by: str | None
    claimed_at: float | None
    created_at: str
    position: int | None = None
    """The row's place in the table (rowid), when read by the review queue that pages by it."""
    ontask: float | None = None
    """The least on-task of the pair's generated texts (0-1; None before on-task scoring)."""
    ontask_scores: dict[str, float] = field(default_factory=dict)
    """Each generated text's on-task score by field (context, question, response)."""
    reason: str | None = None
    """The reject reason code of the latest verdict (`store.review.REJECT_REASONS`)."""

    @classmethod
    def from_row(cls, row: Mapping) -> Pair:
        """From a `pairs` row as a mapping of its columns (and `position`, if selected)."""
        return cls(
            id=row["id"], run_id=row["run_id"], seed_index=row["seed_index"], context=row["context"],
            original_question=row["question"], original_response=row["response"],
            original_user_turn=row["user_turn"] or row["question"],
            edited_question=row["edited_question"], edited_response=row["edited_response"],
            judges=_judges(row["scores"]), score=row["score"], outcome=row["outcome"], status=row["status"],
            reviewer=row["reviewer"], note=row["note"], version=row["version"], claimed_by=row["claimed_by"],
            claimed_at=row["claimed_at"], created_at=row["created_at"], position=row.get("position"),
            ontask=row.get("ontask"), ontask_scores=_ontask_scores(row.get("ontask_scores")),
            reason=row.get("reason"))

    @property
    def question_edited(self) -> bool:
        """An edit that empties a text is no edit: the pair keeps the teacher's text."""
        return bool(self.edited_question)

    @property
    def response_edited(self) -> bool:
        return bool(self.edited_response)

    @property
    def question(self) -> str:
        """The question as the pair now says it: the reviewer's edit, else the teacher's."""
        return self.edited_question or self.original_question

    @property
    def response(self) -> str:
        return self.edited_response or self.original_response

    @property
    def user_turn(self) -> str:
        """The user message with the edited question in the original question's place."""
        turn, original = self.original_user_turn, self.original_question
        if self.question_edited and turn.endswith(original):
            return turn[: len(turn) - len(original)] + self.question
        return self.question if self.question_edited else turn

    @property
    def filtered(self) -> bool:
        return self.outcome != "kept"
