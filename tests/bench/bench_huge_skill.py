"""Benchmark: keystroke latency in the Seeds pane on a 5 MB skill (issue 9, item 11).

Builds a qna.yaml of about 5 MB (five seed examples whose contexts are ~1 MB each), opens it in
the app under Pilot at 80x24, types into the question field and measures each key press from
posting it to the app being idle again (Pilot's `press`, which waits for the key's handlers and
the repaint). Typing spans the lint debounce and autosave interval, so any work they put on
the UI thread shows up in the slowest keys.
Usage: .venv/bin/python tests/bench/bench_huge_skill.py [--keys N] [--mb SIZE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def huge_skill(path: Path, megabytes: float) -> None:
    line = "Revenue for the segment rose by four percent while costs held steady over the quarter.\n"
    lines = int(megabytes * 1_000_000 / 5 / len(line))
    context = "".join(f"{i} {line}" for i in range(lines))
    body = "".join(
        "  - context: |\n" + "".join(f"      {row}\n" for row in context.splitlines())
        + f"    question: What happened to revenue in segment {n}?\n"
        f"    answer: It rose by four percent, with costs steady, in segment {n}.\n" for n in range(5))
    path.write_text("version: 3\ntask_description: Summarise segment results for a quarterly report.\n"
                    "created_by: bench\nseed_examples:\n" + body)


async def measure(skill: Path, db: Path, keys: int) -> list[float]:
    from textual.widgets import TextArea

    from lab_tui.ui.app import LabApp

    app = LabApp(skill, db)
    latencies = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.screen.workers.wait_for_complete()
        question = app.screen.query_one("#question", TextArea)
        question.focus()
        question.move_cursor(question.document.end)
        for index in range(keys):
            started = time.perf_counter()
            await pilot.press("x" if index % 10 else "space")
            latencies.append(time.perf_counter() - started)
        await app.screen.workers.wait_for_complete()
        assert app.screen.skill.examples[0].question.endswith("x")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=150)
    parser.add_argument("--mb", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["LAB_TUI_HOME"] = home
        skill = Path(home) / "qna.yaml"
        huge_skill(skill, args.mb)
        size = skill.stat().st_size
        started = time.perf_counter()
        latencies = asyncio.run(measure(skill, Path(home) / "lab.db", args.keys))
        total = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    print(f"skill {size / 1e6:.1f} MB, {args.keys} keys typed into the question field in {total:.1f} s (incl. open)")
    print(f"keystroke latency: median {statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95)]:.1f} ms, "
          f"max {ms[-1]:.1f} ms")


if __name__ == "__main__":
    main()
