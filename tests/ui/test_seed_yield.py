"""The Seeds pane says what each seed example produced across the skill's runs, and ctrl+r opens
Review on exactly that seed example's pairs."""

from __future__ import annotations

import json
import shutil

from textual.widgets import OptionList
from waiting import until

from lab_tui.resources import example_skill_path
from lab_tui.store.db import open_db
from lab_tui.ui.app import LabApp


def runs_of(path, db_path, pairs: dict[int, list[tuple[str, str, str | None, str | None]]]) -> None:
    """A run of the skill file with, per seed index, pairs (outcome, status, reason, note), written as
    the engine and review write them."""
    db = open_db(db_path)
    db["runs"].insert({"id": "r1", "created_at": "2026-12-03T08:00:00+00:00", "status": "completed",
                       "skill_path": str(path), "skill_snapshot": "{}", "flow": "{}", "prompts_version": "p",
                       "params": "{}", "teacher": json.dumps({"model": "openai/teacher"})})
    with db.conn:
        for seed, made in pairs.items():
            for index, (outcome, status, reason, note) in enumerate(made):
                db["pairs"].insert({"id": f"p{seed}-{index}", "run_id": "r1", "seed_index": seed,
                                    "question": f"Q {seed}.{index}?", "response": f"A {seed}.{index}.",
                                    "outcome": outcome, "status": status, "reason": reason, "note": note,
                                    "score": 3.0, "created_at": f"2026-12-03T08:00:{index:02d}+00:00"})


def example_yields(path, tmp_path):
    runs_of(path, tmp_path / "lab.db", {
        1: [("kept", "accepted", None, None), ("kept", "rejected", "off-task", "about the weather, not Q4"),
            ("kept", "rejected", "off-task", "about the weather, not Q4"), ("filtered", "pending", None, None)],
        3: [("kept", "pending", None, None)]})


async def test_each_seed_example_shows_what_it_made_and_ctrl_r_reviews_exactly_its_pairs(tmp_path):
    path = tmp_path / "qna.yaml"
    shutil.copy(example_skill_path(), path)
    example_yields(path, tmp_path)
    app = LabApp(path, tmp_path / "lab.db")
    async with app.run_test(size=(100, 30)) as pilot:
        seeds = app.pane_screens["seeds"]
        await until(pilot, lambda: set(seeds.yields) == {1, 3})
        examples = seeds.query_one("#examples", OptionList)
        assert str(examples.get_option_at_index(1).prompt).endswith("·3")
        assert str(examples.get_option_at_index(3).prompt).endswith("·1")
        assert "·" not in str(examples.get_option_at_index(0).prompt)
        shown = lambda: str(seeds.query_one("#seed-yield").render())  # noqa: E731
        assert "made no pairs" in shown()
        examples.focus()
        await pilot.press("down")
        await until(pilot, lambda: "made 4" in shown())
        assert "made 4 pairs: 3 kept by the judges · 1 accepted · 2 rejected (off-task 2)" in shown()
        assert "about the weather, not Q4" in shown() and "×2" in shown()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.current_mode == "review")
        review = app.pane_screens["review"]
        await until(pilot, lambda: review.pair is not None)
        assert review.filter.seed_index == 1
        where, params = review.filter.where()
        ids = [row[0] for row in open_db(tmp_path / "lab.db").execute(f"SELECT id FROM pairs WHERE {where}", params)]
        assert sorted(ids) == ["p1-0", "p1-1", "p1-2"]


async def test_the_yield_catches_up_when_the_pane_is_shown_again(tmp_path):
    path = tmp_path / "qna.yaml"
    shutil.copy(example_skill_path(), path)
    open_db(tmp_path / "lab.db")
    app = LabApp(path, tmp_path / "lab.db")
    async with app.run_test(size=(100, 30)) as pilot:
        seeds = app.pane_screens["seeds"]
        await until(pilot, lambda: seeds.path is not None)
        await pilot.pause()
        assert not seeds.query_one("#seed-yield").display
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.current_mode == "seeds"
        example_yields(path, tmp_path)  # a run (the CLI, the Run pane) made pairs meanwhile
        await pilot.press("f3")
        await pilot.press("f2")
        await until(pilot, lambda: set(seeds.yields) == {1, 3})
