"""What the UI tests build: pairs in a database, written by hand as the engine would, and a small
taxonomy of skill files in git, and a database as full as a full disk makes it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

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


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"
SKILLS = {
    "compositional_skills/writing/inclusion": "compositional_skills__grounded__linguistics__inclusion.yaml",
    "compositional_skills/linguistics/synonyms": "compositional_skills__linguistics__synonyms.yaml",
    "compositional_skills/writing/limerick": "hist_bad__writing__freeform__poetry__limerick.yaml",
    "compositional_skills/sales/objections": "hist_v2__writing__grounded__objection_handling.yaml",
}
KNOWLEDGE = "version: 3\ndomain: astronomy\ncreated_by: x\ndocument_outline: Moon\nseed_examples: []\n"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   check=True, capture_output=True)


def build(root: Path, with_git: bool = True) -> Path:
    """A small taxonomy; with git, `synonyms` changed on a branch and `objections` is untracked."""
    for folder, fixture in SKILLS.items():
        if folder.endswith("objections") and with_git:
            continue
        (root / folder).mkdir(parents=True)
        shutil.copy(FIXTURES / fixture, root / folder / "qna.yaml")
    (root / "knowledge/moon").mkdir(parents=True)
    (root / "knowledge/moon/qna.yaml").write_text(KNOWLEDGE)
    if with_git:
        git(root.parent, "init", "-q", "-b", "main", str(root))
        git(root, "add", ".")
        git(root, "commit", "-qm", "base")
        git(root, "update-ref", "refs/remotes/origin/main", "HEAD")
        git(root, "checkout", "-qb", "feature")
        with open(root / "compositional_skills/linguistics/synonyms/qna.yaml", "a") as file:
            file.write("# changed\n")
        (root / "compositional_skills/sales/objections").mkdir(parents=True)
        shutil.copy(FIXTURES / SKILLS["compositional_skills/sales/objections"],
                    root / "compositional_skills/sales/objections/qna.yaml")
    return root


def fill_the_disk(db) -> None:
    """Make the pane's database as full as a full disk makes it, for real: `max_page_count` caps the
    file at the pages it has, and filler verdicts (on another pair) use up the room left in them, so the
    next write SQLite must make raises SQLITE_FULL ("database or disk is full"), the error a full disk
    gives. A tmpfs or loop device of a few pages is not available to the suite."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    try:
        while True:
            db.execute("INSERT INTO verdicts (pair_id, reviewer, status, previous_status, created_at) "
                       "VALUES ('r1-p3', 'filler', 'pending', 'pending', '')")
    except sqlite3.OperationalError as error:
        assert "full" in str(error)
    db.conn.commit()


def free_the_disk(db) -> None:
    db.execute("PRAGMA max_page_count = 1073741823")
