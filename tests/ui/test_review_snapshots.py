"""SVG snapshots of the Review pane's steering screens at 80x24: a pair with its on-task score and
place in the queue, the reject reasons, the recent decisions list, the bulk confirmation, the export
dialog."""

from __future__ import annotations

import json

from waiting import until

from builders import populate
from lab_tui.resources import example_skill_path
from lab_tui.ui.app import LabApp

SIZE = (80, 24)


def app(tmp_path):
    return LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="review", reviewer="ann")


def pairs(tmp_path):
    db = populate(tmp_path / "lab.db", count=6)
    for index, score in enumerate((0.81, 0.12, 0.64, 0.55, 0.33, 0.9)):
        db.execute("UPDATE pairs SET ontask = ?, ontask_scores = ? WHERE id = ?",
                   [score, json.dumps({"context": 0.95, "question": score, "response": 0.7}), f"r1-p{index}"])
    db.conn.commit()


async def ready(pilot):
    screen = pilot.app.pane_screens["review"]
    await until(pilot, lambda: screen.pair is not None and screen.counts and screen.place)
    return screen


async def settled(pilot) -> None:
    """The pane's counting and agreement workers are done: the header is as it stays."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def no_cursor_blink(pilot) -> None:
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False


def test_risk_order_with_on_task_and_progress(snap_compare, tmp_path):
    pairs(tmp_path)

    async def run_before(pilot):
        screen = await ready(pilot)
        await pilot.press("a")
        await until(pilot, lambda: screen.pair.id == "r1-p1")
        await pilot.press("s")
        await until(pilot, lambda: screen.filter.order == "risk" and screen.pair.id == "r1-p1" and screen.place)
        await until(pilot, lambda: screen.counts.get("accepted") == 1)
        await settled(pilot)

    assert snap_compare(app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_the_reject_reasons(snap_compare, tmp_path):
    pairs(tmp_path)

    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("R")
        await until(pilot, lambda: pilot.app.screen is not pilot.app.pane_screens["review"])
        no_cursor_blink(pilot)

    assert snap_compare(app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_the_recent_decisions_list(snap_compare, tmp_path):
    pairs(tmp_path)

    async def run_before(pilot):
        screen = await ready(pilot)
        for keys, after in ((("a",), "r1-p1"), (("R", "o"), "r1-p2"), (("R", "d"), "r1-p3"), (("space",), "r1-p4")):
            await pilot.press(*keys)
            await until(pilot, lambda: screen.pair.id == after)
        await settled(pilot)
        await pilot.press("h")
        await until(pilot, lambda: pilot.app.screen is not screen)

    assert snap_compare(app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_the_bulk_confirmation(snap_compare, tmp_path):
    pairs(tmp_path)

    async def run_before(pilot):
        screen = await ready(pilot)
        await pilot.press("X")
        await until(pilot, lambda: pilot.app.screen is not screen)

    assert snap_compare(app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_the_export_dialog(snap_compare, tmp_path, lab_home):
    pairs(tmp_path)

    async def run_before(pilot):
        screen = await ready(pilot)
        await pilot.press("E")
        await until(pilot, lambda: pilot.app.screen is not screen)
        pilot.app.screen.query_one("#export-path").value = "/exports/r1-accepted.jsonl"  # not the tmp path
        await pilot.pause()
        no_cursor_blink(pilot)

    assert snap_compare(app(tmp_path), terminal_size=SIZE, run_before=run_before)
