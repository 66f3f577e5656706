"""Turn a run's pairs into the chat-format JSONL records InstructLab training reads.

The record shape follows what `instructlab.sdg` writes for skills (`messages` with system, user
and assistant turns, `metadata` as a JSON *string*, and an `id`): keeping metadata a string means
our files concatenate with ilab's own without the `datasets` loader seeing two types for one column.
Nothing of the teacher profile but its model name is exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import sqlite_utils

from lab_tui.store import queries

SYSTEM_PROMPT = (
    "I am an advanced AI language model designed to assist you with a wide range of tasks and provide "
    "helpful, clear, and accurate responses. My primary role is to serve as a chat assistant, engaging in "
    "natural, conversational dialogue, answering questions, generating ideas, and offering support across "
    "various topics."
)
"""InstructLab's default, model-neutral system prompt (`DEFAULT_SYS_PROMPT` in the ilab CLI).

instructlab-sdg's skills data uses a Granite-branded variant of the same sentence; the neutral one
fits any student model while keeping the chat assistant framing training expects.
"""

EXPORT_STATUSES = ("accepted", "all", "rejected", "pending")
DEFAULT_STATUS = "accepted"


def user_turn(pair: dict) -> str:
    """The user message as the run's flow built it (grounded: context, a blank line, the question;
    freeform: the question). A reviewer's edited question takes the question's place in it."""
    turn = pair.get("user_turn") or pair["question"]
    edited = pair.get("edited_question")
    if edited and turn.endswith(pair["question"]):
        return turn[: len(turn) - len(pair["question"])] + edited
    return edited or turn


def judges(pair: dict) -> list[dict]:
    """The pair's judges in flow order: {judge, label, score, explanation}."""
    try:
        value = json.loads(pair.get("scores") or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def record(pair: dict, model: str = "") -> dict:
    """One export record for a pair row (a dict of the `pairs` table's columns)."""
    response = pair.get("edited_response") or pair["response"]
    question = pair.get("edited_question") or pair["question"]
    filtered = pair["outcome"] != "kept"
    metadata = {
        "run_id": pair["run_id"],
        "pair_id": pair["id"],
        "seed_index": pair.get("seed_index"),
        "teacher_model": model,
        "context": pair.get("context"),
        "question": question,
        "score": pair.get("score"),
        "judges": judges(pair),
        "filtered": filtered,
        "review_status": pair.get("status"),
        "reviewer": pair.get("reviewer"),
        "note": pair.get("note"),
        "question_edited": bool(pair.get("edited_question")),
        "response_edited": bool(pair.get("edited_response")),
        "original_question": pair["question"] if pair.get("edited_question") else None,
        "original_response": pair["response"] if pair.get("edited_response") else None,
    }
    return {
        "id": pair["id"],
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_turn(pair)},
            {"role": "assistant", "content": response},
        ],
        "metadata": json.dumps(metadata, ensure_ascii=False),
        "filtered": filtered,
    }


def export_records(
    db: sqlite_utils.Database, run_id: str, status: str = DEFAULT_STATUS, include_filtered: bool = False
) -> Iterator[dict]:
    """Records for a run's pairs: final pairs (outcome kept) with the review `status` asked for.

    `status` "all" takes every review status. `include_filtered` also takes the pairs the pair
    judge dropped (under the same status filter), marked `"filtered": true`. Raises
    UnknownRunError for a run id not in the database, and ValueError for an unknown status.
    """
    if status not in EXPORT_STATUSES:
        raise ValueError(f"unknown status {status!r}: choose one of {', '.join(EXPORT_STATUSES)}")
    run = queries.get_run(db, run_id)
    model = queries.teacher_model(run["teacher"])
    outcome = queries.OUTCOMES if include_filtered else "kept"
    review_status = None if status == "all" else status
    for pair in queries.pairs(db, run_id=run_id, outcome=outcome, status=review_status):
        yield record(pair, model)


def to_jsonl(records: Iterable[dict]) -> str:
    """One JSON object per line, text kept literal (UTF-8, JSON escapes only).

    U+2028/U+2029 are escaped too: they are legal inside JSON strings, but tools that split lines
    the Unicode way (Python's str.splitlines, JavaScript) would cut a record in two.
    """
    lines = []
    for item in records:
        line = json.dumps(item, ensure_ascii=False)
        lines.append(line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return "".join(line + "\n" for line in lines)
