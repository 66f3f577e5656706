"""Pairs in a lab-tui database, written by hand as the engine would, for the Review pane's tests."""

from __future__ import annotations

import json

from lab_tui.store.db import open_db


def populate(path, count=4, run_id="r1"):
    db = open_db(path)
    db["runs"].insert({"id": run_id, "created_at": "2026-11-25T08:00:00+00:00", "status": "completed",
                       "skill_snapshot": "{}", "flow": "{}", "prompts_version": "p", "params": "{}",
                       "teacher": json.dumps({"model": "openai/teacher"})}, ignore=True)
    with db.conn:
        for index in range(count):
            db["pairs"].insert({
                "id": f"{run_id}-p{index}", "run_id": run_id, "seed_index": index % 3,
                "context": f"Context {index}: the clinic opened a new wing in Q4.",
                "question": f"Question {index}: when did the wing open?",
                "response": f"Response {index}: in Q4.", "score": 3.0 - (index % 2),
                "scores": json.dumps([{"judge": "q", "label": "question judge", "score": 1.0,
                                       "explanation": "answerable from the context"},
                                      {"judge": "p", "label": "pair judge", "score": 3.0 - (index % 2),
                                       "explanation": "grounded"}]),
                "outcome": "kept", "status": "pending",
                "created_at": f"2026-11-25T08:00:{index:02d}+00:00"})
    return db
