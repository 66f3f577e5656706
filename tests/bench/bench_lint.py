"""Benchmark: `lab-tui lint` over 2,000 real seed files, timed as a whole process.

The 13 public taxonomy fixtures are copied until there are 2,000 files (two of them do not parse,
as in a real taxonomy). Usage: .venv/bin/python tests/bench/bench_lint.py [--files N] [--repeat R]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sources = sorted(FIXTURES.glob("*.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.files):
            source = sources[i % len(sources)]
            folder = Path(tmp) / f"skill_{i:04d}"
            folder.mkdir()
            shutil.copy(source, folder / "qna.yaml")
        times = []
        cpu_before = _children_cpu()
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "lab_tui", "lint", tmp, "--format", "json"],
                           stdout=subprocess.DEVNULL, check=False)
            times.append(time.perf_counter() - start)
        cpu = _children_cpu() - cpu_before
    print(f"lint {args.files} files: median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f} s, max {max(times):.2f} s, {args.repeat} runs); "
          f"CPU time / wall time {cpu / sum(times):.2f} (above 1 means more than one core worked)")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
