"""Benchmark: from `lab-tui run` to its first request at the teacher (issue 20's start-up).

Runs the bundled skill with the smallest counts against the counting teacher (no latency), each a
fresh process, and prints per round the seconds from the process start to the first request's
arrival, the wall time and the CPU of the whole process. `--tree DIR` runs another checkout's
`lab_tui` (e.g. `git archive main lab_tui | tar -x -C /tmp/before`) with this venv, rounds
alternating with this one, so a before/after pair shares the machine's load.

Usage: .venv/bin/python tests/bench/bench_first_request.py [--rounds 5] [--tree DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import SKILL, Teacher, load, measured, warm  # noqa: E402


def first_request(teacher: Teacher, folder: Path, name: str, tree: Path | None) -> dict:
    env = dict(os.environ, LAB_TUI_HOME=str(folder / "home"))
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    teacher.stats()  # forget what came before
    result = measured([sys.executable, "-m", "lab_tui", "run", str(SKILL), "--api-base", teacher.api_base,
                       "--contexts", "1", "--questions", "1", "--db", str(folder / f"{name}.db")],
                      folder / f"{name}.log", env)
    result["first_s"] = teacher.stats()["first_arrived"] - result["started"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tree", type=Path, help="also run this checkout's lab_tui, rounds alternating")
    args = parser.parse_args()
    trees = {"this": None, **({"tree": args.tree.resolve()} if args.tree else {})}
    warm()
    seen: dict[str, list[dict]] = {name: [] for name in trees}
    with Teacher() as teacher, tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # `python -m` puts the working directory first on sys.path: not a checkout
        for round_number in range(args.rounds):
            for name, tree in trees.items():
                result = first_request(teacher, Path(scratch), f"{name}-{round_number}", tree)
                seen[name].append(result)
                print(f"{name:>5} round {round_number + 1}: first request {result['first_s']:.2f} s · wall "
                      f"{result['wall_s']:.2f} s · CPU {result['cpu_s']:.2f} s · {load()}", flush=True)
    for name, results in seen.items():
        print(f"{name:>5} median: first request {statistics.median(r['first_s'] for r in results):.2f} s · "
              f"CPU {statistics.median(r['cpu_s'] for r in results):.2f} s over {len(results)} rounds")


if __name__ == "__main__":
    main()
