"""Review pane speed with 100,000 pairs: time to open on the first pair, and verdict key to next pair.

Populates a fresh database (in a temp dir), then drives the real app with Pilot at 80x24:
"open" is from App.run_test() start to the first pair on screen (counters included); "verdict"
is from a key event `a` reaching the app (sent through the headless driver, as a terminal would) to
the next pair's question being in its widget, over N presses (median and max); the screen is
then painted on Textual's next refresh (at most 1/60 s later). Pilot's own `press` round trip is
also shown: it adds Pilot's idle detection (measured here on a key bound to nothing). Also times
the store calls alone (record_verdict + next_pair) to show where the time goes.

    .venv/bin/python tests/bench/bench_review.py [--pairs 100000] [--verdicts 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def populate(path: Path, count: int) -> None:
    from lab_tui.store.db import open_db

    db = open_db(path)
    db["runs"].insert({"id": "bench", "created_at": "2026-11-25T08:00:00+00:00", "status": "completed",
                       "skill_snapshot": "{}", "flow": "{}", "prompts_version": "p", "params": "{}",
                       "teacher": json.dumps({"model": "openai/teacher"})})
    text = "Revenue grew 12% to $4.1M; churn fell to 3%. " * 20
    rows = ((f"p{i:06d}", "bench", i % 5, text, f"Question {i}: how did revenue change?", f"Response {i}: " + text,
             float(1 + i % 3), json.dumps([{"judge": "q", "label": "question judge", "score": 1.0,
                                            "explanation": "answerable"},
                                           {"judge": "p", "label": "pair judge", "score": float(1 + i % 3),
                                            "explanation": "grounded"}]),
             "kept" if i % 3 else "filtered", "pending",
             f"2026-11-25T08:{i // 60000:02d}:{i % 60000 / 1000:06.3f}") for i in range(count))
    with db.conn:
        db.conn.executemany(
            "INSERT INTO pairs (id, run_id, seed_index, context, question, response, score, scores, outcome, "
            "status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


async def drive(db_path: Path, verdicts: int) -> tuple[float, list[float], list[float], list[float]]:
    from textual import events

    from lab_tui.resources import example_skill_path
    from lab_tui.ui.app import LabApp

    app = LabApp(example_skill_path(), db_path, start_mode="review", reviewer="bench")
    started = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = None
        while screen is None or screen.pair is None or not screen.counts:
            await asyncio.sleep(0.001)
            screen = app.pane_screens.get("review")
        opened = time.perf_counter() - started
        question = screen.query_one("#text-question")
        times, pilot_times, idle_times = [], [], []
        for _ in range(verdicts):
            before = str(question.render())
            t0 = time.perf_counter()
            key = events.Key("a", "a")
            key.set_sender(app)
            app._driver.send_message(key)
            while str(question.render()) == before:
                await asyncio.sleep(0.0002)
            times.append(time.perf_counter() - t0)
        for _ in range(verdicts // 2):
            before = screen.pair.id
            t0 = time.perf_counter()
            await pilot.press("a")
            while screen.pair.id == before:
                await asyncio.sleep(0.0005)
            pilot_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await pilot.press("z")
            idle_times.append(time.perf_counter() - t0)
    return opened, times, pilot_times, idle_times


def store_only(db_path: Path, verdicts: int) -> list[float]:
    from lab_tui.store import review
    from lab_tui.store.db import open_db

    db = open_db(db_path)
    where, session = review.ReviewFilter(), review.Session("store")
    pair = review.next_pair(db, session, where)
    times = []
    for _ in range(verdicts):
        t0 = time.perf_counter()
        review.record_verdict(db, pair["id"], session, "rejected", pair["version"])
        pair = review.next_pair(db, session, where, after=pair["position"])
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--verdicts", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LAB_TUI_HOME"] = tmp
        os.environ["TEXTUAL_ANIMATIONS"] = "none"
        db_path = Path(tmp) / "lab.db"
        t0 = time.perf_counter()
        populate(db_path, args.pairs)
        print(f"populated {args.pairs} pairs in {time.perf_counter() - t0:.1f} s")
        opened, times, pilot_times, idle_times = asyncio.run(drive(db_path, args.verdicts))
        print(f"open review pane to first pair (with counters): {opened * 1000:.0f} ms")
        print(f"verdict key -> next pair in its widget: median {statistics.median(times) * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms over {len(times)}")
        print(f"Pilot press('a') round trip: median {statistics.median(pilot_times) * 1000:.1f} ms; "
              f"Pilot press of an unbound key: median {statistics.median(idle_times) * 1000:.1f} ms")
        store = store_only(db_path, args.verdicts)
        print(f"store only (record_verdict + next_pair): median {statistics.median(store) * 1000:.2f} ms, "
              f"max {max(store) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
