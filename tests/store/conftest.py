"""Build lab-tui databases by hand, following the schema, so store tests never need the engine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lab_tui.store.db import open_db


class Builder:
    def __init__(self, path):
        self.path = path
        self.db = open_db(path)
        self._clock = 0

    def _now(self) -> str:
        self._clock += 1
        return f"2026-11-25T08:00:{self._clock:02d}+00:00"

    def run(self, run_id: str, status: str = "completed", pid: int | None = None, **extra) -> str:
        values = {
            "id": run_id,
            "created_at": self._now(),
            "status": status,
            "skill_path": "/skills/quarterly_email/qna.yaml",
            "skill_snapshot": json.dumps({"task_description": "Write an email", "examples": []}),
            "flow": "{}",
            "prompts_version": "p1",
            "teacher": json.dumps({"model": "openai/teacher-x", "api_base": "http://127.0.0.1:8000/v1", "api_key_env": "SECRET_VAR"}),
            "params": "{}",
            "pid": pid,
        }
        values.update(extra)
        self.db["runs"].insert(values)
        return run_id

    def pair(self, run_id: str, pair_id: str, outcome: str = "kept", status: str = "pending", **extra) -> str:
        values = {
            "id": pair_id,
            "run_id": run_id,
            "seed_index": 1,
            "context": f"Context of {pair_id}",
            "question": f"Question of {pair_id}?",
            "response": f"Response of {pair_id}.",
            "user_turn": f"Context of {pair_id}\n\nQuestion of {pair_id}?",
            "score": 3.0 if outcome == "kept" else 1.0,
            "scores": json.dumps([
                {"judge": "eval_questions", "label": "question judge", "score": 1.0, "explanation": "answerable"},
                {"judge": "evaluate_qa_pair", "label": "pair judge", "score": 3.0 if outcome == "kept" else 1.0,
                 "explanation": "grounded" if outcome == "kept" else "not grounded"}]),
            "outcome": outcome,
            "status": status,
            "created_at": self._now(),
        }
        values.update(extra)
        self.db["pairs"].insert(values)
        return pair_id

    def row(self, run_id: str, row_id: str, stage: str, status: str = "ok", **extra) -> str:
        values = {
            "id": row_id,
            "run_id": run_id,
            "stage": stage,
            "data": json.dumps(extra.pop("data", {})),
            "status": status,
            "created_at": self._now(),
        }
        values.update(extra)
        self.db["rows"].insert(values)
        return row_id


@pytest.fixture
def builder(tmp_path):
    return Builder(tmp_path / "lab.db")


@pytest.fixture
def dead_pid() -> int:
    """A pid with no process behind it: a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid
