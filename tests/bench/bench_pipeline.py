"""Benchmark: a full run at concurrency 32 against the test teacher (0.5 s ± 50 % latency).

Reports wall time, requests/s, efficiency against the ideal (requests × mean latency ÷
concurrency) and against a bare loop of `litellm.acompletion` calls sending the same number of
requests at the same concurrency to the same server. Both are timed as whole processes (each
pays litellm's import). Usage: .venv/bin/python tests/bench/bench_pipeline.py [--contexts 20]  (per seed example)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LATENCY, JITTER, CONCURRENCY = 0.5, 0.5, 32

BARE_LOOP = """
import asyncio, os, sys
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm
litellm.suppress_debug_info = True
api_base, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

async def one(slots, i):
    async with slots:
        await litellm.acompletion(model="openai/teacher", api_base=api_base, api_key="no-key-needed", num_retries=0,
                                  messages=[{"role": "user", "content": f"Write question {i} [Start of Question]"}],
                                  temperature=0.7, max_tokens=512)

async def main():
    slots = asyncio.Semaphore(concurrency)
    await asyncio.gather(*(one(slots, i) for i in range(total)))

asyncio.run(main())
"""


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contexts", type=int, default=20, help="per seed example (the skill has 5)")
    parser.add_argument("--questions", type=int, default=3)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, str(REPO / "tests" / "teacher_server.py"), "--latency", str(LATENCY),
                               "--jitter", str(JITTER)], stdout=subprocess.PIPE, text=True)
    try:
        api_base = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, LAB_TUI_HOME=home)
            db = Path(home) / "lab.db"
            run_s = timed([sys.executable, "-m", "lab_tui", "run", str(REPO / "lab_tui/data/quarterly_email/qna.yaml"),
                           "--api-base", api_base, "--contexts", str(args.contexts), "--questions", str(args.questions),
                           "--concurrency", str(CONCURRENCY), "--db", str(db)], env)
            sys.path.insert(0, str(REPO))
            from lab_tui.store.db import open_db

            requests, mean_latency = open_db(db).execute(
                "SELECT count(*), avg(latency_s) FROM requests WHERE response IS NOT NULL").fetchone()
            bare_s = timed([sys.executable, "-c", BARE_LOOP, api_base, str(requests), str(CONCURRENCY)], env)
    finally:
        server.kill()
    ideal = requests * LATENCY / CONCURRENCY
    print(f"pipeline: {requests} requests at concurrency {CONCURRENCY}, latency {LATENCY} s ± {JITTER:.0%} "
          f"(measured mean {mean_latency:.3f} s)")
    print(f"  lab-tui run: {run_s:.2f} s wall, {requests / run_s:.1f} req/s, "
          f"efficiency vs ideal {ideal / run_s:.2f} (ideal {ideal:.2f} s, no process start-up)")
    print(f"  bare litellm loop: {bare_s:.2f} s wall, {requests / bare_s:.1f} req/s")
    print(f"  lab-tui run vs bare loop: {bare_s / run_s:.2f}")


if __name__ == "__main__":
    main()
