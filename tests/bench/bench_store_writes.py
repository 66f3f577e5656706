"""Benchmark: CPU of the engine's writes for one request (begin, finish, two rows, a pair every
fourth), in process, through `lab_tui.store.runs` as it is here and, with `--tree DIR`, as another
checkout has it (rounds alternating, so both share the machine's load).

Usage: .venv/bin/python tests/bench/bench_store_writes.py [--requests 2000] [--rounds 3] [--tree DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import sys, time
from lab_tui.store import runs
from lab_tui.store.db import open_db

db = open_db(sys.argv[1])
runs.create_run(db, run_id="r", skill_path=None, skill_snapshot={"examples": []}, flow={}, prompts_version="v",
                teacher={}, params={})
messages = [{"role": "system", "content": "You are a teacher. " * 20}, {"role": "user", "content": "Write. " * 200}]
started = time.process_time()
for n in range(int(sys.argv[2])):
    request = f"q{n}"
    runs.begin_request(db, id=request, run_id="r", stage="s", model="m", messages=messages, params={"t": 0})
    runs.finish_request(db, request, response="answer " * 100, finish_reason="stop", tokens_in=300, tokens_out=100,
                        latency_s=0.5, attempts=1, error=None, answered_at=runs.now(), endpoint="http://x")
    for row in range(2):
        runs.record_row(db, id=f"{request}-{row}", run_id="r", stage="s", parent_id=None, request_id=request,
                        seed_index=0, data={"question": "why " * 30}, status="ok", reason=None, score=None,
                        explanation=None)
    if n % 4 == 0:
        runs.record_pair(db, id=f"p{n}", run_id="r", seed_index=0, context="c " * 100, question="q " * 20,
                         response="a " * 80, user_turn="u", score=3.0, scores="[]", outcome="kept")
print(time.process_time() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", type=Path, help="also measure this checkout's lab_tui")
    args = parser.parse_args()
    trees = {"this": None, **({"tree": args.tree.resolve()} if args.tree else {})}
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.rounds):
            for name, tree in trees.items():
                env = dict(os.environ, **({"PYTHONPATH": str(tree)} if tree else {}))
                db = Path(scratch) / f"{name}-{round_number}.db"
                cpu = float(subprocess.run([sys.executable, "-c", CHILD, str(db), str(args.requests)], env=env,
                                           cwd=scratch, capture_output=True, text=True, check=True).stdout)
                print(f"{name:>5} round {round_number + 1}: {cpu * 1000 / args.requests:.3f} ms of CPU per request "
                      f"· load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
