"""Benchmark: process start to the Seeds pane's first interactive frame (headless).

Each run is a fresh `python` process that imports the app the way `lab-tui` does, opens the
bundled example skill, and exits from `on_ready` (the first frame has been drawn and input is
live). Also reports whether litellm got imported (it must not be: ~3 s and ~200 MB).
Usage: .venv/bin/python tests/bench/bench_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = """
import sys
from pathlib import Path
from lab_tui.ui.app import LabApp
from lab_tui.ui.launch import default_skill_path

class FirstFrame(LabApp):
    def on_ready(self):
        self.exit()

FirstFrame(default_skill_path(), Path(sys.argv[1])).run(headless=True, size=(80, 24))
print("litellm" in sys.modules)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    times, litellm = [], set()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, LAB_TUI_HOME=home)
        for _ in range(args.repeat):
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, f"{home}/lab.db"], env=env,
                                 capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - start)
            litellm.add(out.stdout.strip())
    print(f"start-up to first interactive frame: median {statistics.median(times) * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, {args.repeat} runs); "
          f"litellm imported: {', '.join(sorted(litellm))}")


if __name__ == "__main__":
    main()
