"""Skills pane on a 1,800-file taxonomy: how soon the list shows, how long lint takes, and whether
keys wait meanwhile.

The 13 public taxonomy fixtures are copied to N `compositional_skills/.../qna.yaml` files in a git
clone (committed, mirrored as origin/main, a few changed), then the real app is driven with Pilot at
80x24. "list" is from App.run_test() start to every row listed; "linted" to every row's lint counts
in. While lint runs, a `down` key event is sent through the headless driver (as a terminal would)
every 50 ms and timed until the cursor has moved; a 10 ms ticker on the app's loop records how late
it wakes (the longest stall of the UI).

    .venv/bin/python tests/bench/bench_skills.py [--files 1800]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"


def build(root: Path, count: int) -> None:
    sources = sorted(FIXTURES.glob("*.yaml"))
    for i in range(count):
        folder = root / "compositional_skills" / f"area_{i // 100:02d}" / f"skill_{i:04d}"
        folder.mkdir(parents=True)
        shutil.copy(sources[i % len(sources)], folder / "qna.yaml")
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "taxonomy"], check=True)
    subprocess.run([*git, "update-ref", "refs/remotes/origin/main", "HEAD"], check=True)
    for i in range(0, count, 97):
        with open(root / "compositional_skills" / f"area_{i // 100:02d}" / f"skill_{i:04d}" / "qna.yaml", "a") as f:
            f.write("# changed\n")


async def drive(root: Path, db_path: Path) -> dict:
    from textual import events

    from lab_tui.ui.app import LabApp
    from lab_tui.ui.skills_pane import SkillList

    app = LabApp(None, db_path, start_mode="skills", taxonomy=root)
    lags: list[float] = []
    keys: list[float] = []
    started = time.perf_counter()
    async with app.run_test(size=(80, 24)):
        async def ticker() -> None:
            while True:
                t0 = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - t0 - 0.01)

        screen = None
        while screen is None or not screen.rows:
            await asyncio.sleep(0.001)
            screen = app.pane_screens.get("skills")
        listed = time.perf_counter() - started
        tick = asyncio.create_task(ticker())
        listing = screen.query_one(SkillList)
        while screen.linted < len(screen.rows):
            before = listing.cursor
            t0 = time.perf_counter()
            key = events.Key("down", None)
            key.set_sender(app)
            app._driver.send_message(key)
            while listing.cursor == before and screen.linted < len(screen.rows):
                await asyncio.sleep(0.0002)
            if listing.cursor != before:
                keys.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)
        linted = time.perf_counter() - started
        tick.cancel()
        return {"files": len(screen.rows), "listed": listed, "linted": linted, "keys": keys, "lags": lags,
                "changed": len(screen.changes.paths) if screen.changes else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LAB_TUI_HOME"] = tmp
        os.environ["TEXTUAL_ANIMATIONS"] = "none"
        root = Path(tmp) / "taxonomy"
        build(root, args.files)
        result = asyncio.run(drive(root, Path(tmp) / "lab.db"))
    keys, lags = result["keys"], result["lags"]
    print(f"{result['files']} files ({result['changed']} changed): list shown in {result['listed'] * 1000:.0f} ms, "
          f"all linted in {result['linted']:.2f} s")
    print(f"while linting: key `down` -> cursor moved, median {statistics.median(keys) * 1000:.1f} ms, "
          f"max {max(keys) * 1000:.1f} ms over {len(keys)} keys; "
          f"longest loop stall {max(lags) * 1000:.0f} ms (median {statistics.median(lags) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
