"""Benchmark: a whole `lab-tui run` against the suite's teacher, next to a bare litellm loop.

The teacher (tests/teacher_server.py) answers after 0.5 s ± 50 % (the same request always takes
the same time). First `lab-tui run` at concurrency 32 is timed as a whole process; then a bare
loop of `litellm.acompletion` calls sends exactly the requests that run stored, at the same
concurrency, to the same server, also timed as a whole process. Reports wall time, requests/s,
efficiency against the ideal (requests × mean latency ÷ concurrency, also with a process's
start-up taken off) and against the bare loop.

Usage: .venv/bin/python tests/bench/bench_pipeline.py [--contexts 40] [--questions 3]
       [--concurrency 32] [--latency 0.5] [--jitter 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "tests" / "teacher_server.py"
SKILL = REPO / "lab_tui" / "data" / "quarterly_email" / "qna.yaml"


async def bare_loop(requests_file: str, api_base: str, concurrency: int) -> None:
    """The baseline: the same requests, no pipeline, one semaphore."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    requests = json.loads(Path(requests_file).read_text())
    slots = asyncio.Semaphore(concurrency)

    async def send(messages: list, params: dict) -> None:
        async with slots:
            await litellm.acompletion(model=params["model"], messages=messages, api_base=api_base,
                                      api_key="no-key-needed", num_retries=0, timeout=120,
                                      temperature=params["temperature"], max_tokens=params["max_tokens"], seed=None)

    await asyncio.gather(*(send(m, p) for m, p in requests))
    from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

    await close_litellm_async_clients()


def timed(command: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{command[:4]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contexts", type=int, default=40)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--jitter", type=float, default=0.5)
    parser.add_argument("--bare-loop", nargs=3, metavar=("REQUESTS_JSON", "API_BASE", "CONCURRENCY"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_loop:
        asyncio.run(bare_loop(args.bare_loop[0], args.bare_loop[1], int(args.bare_loop[2])))
        return

    server = subprocess.Popen([sys.executable, str(SERVER), "--latency", str(args.latency), "--jitter",
                               str(args.jitter)], stdout=subprocess.PIPE, text=True)
    try:
        api_base = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, LAB_TUI_HOME=tmp)
            db_path = Path(tmp) / "lab.db"
            engine_s, _ = timed([sys.executable, "-m", "lab_tui", "run", str(SKILL), "--api-base", api_base,
                                 "--concurrency", str(args.concurrency), "--contexts", str(args.contexts),
                                 "--questions", str(args.questions), "--db", str(db_path)], env)
            db = sqlite3.connect(db_path)
            stored = db.execute("SELECT messages, params, latency_s FROM requests WHERE response IS NOT NULL"
                                ).fetchall()
            pairs = db.execute("SELECT count(*) FROM pairs WHERE outcome = 'kept'").fetchone()[0]
            db.close()
            requests = [(json.loads(m), json.loads(p)) for m, p, _ in stored]
            mean_latency = sum(lat for _, _, lat in stored) / len(stored)
            requests_file = Path(tmp) / "requests.json"
            requests_file.write_text(json.dumps(requests))
            bare_s, _ = timed([sys.executable, __file__, "--bare-loop", str(requests_file), api_base,
                               str(args.concurrency)], env)
            empty_file = Path(tmp) / "none.json"
            empty_file.write_text("[]")
            startup_s, _ = timed([sys.executable, __file__, "--bare-loop", str(empty_file), api_base, "1"], env)
    finally:
        server.terminate()
        server.wait()

    ideal = len(requests) * mean_latency / args.concurrency
    print(f"requests: {len(requests)} (contexts {args.contexts}, questions {args.questions}), pairs kept: {pairs}, "
          f"concurrency {args.concurrency}, teacher latency {args.latency} s ± {args.jitter:.0%} "
          f"(measured mean {mean_latency:.3f} s)")
    print(f"lab-tui run:  wall {engine_s:.2f} s, {len(requests) / engine_s:.1f} req/s")
    print(f"bare loop:    wall {bare_s:.2f} s, {len(requests) / bare_s:.1f} req/s")
    print(f"ideal (requests × mean latency ÷ concurrency): {ideal:.2f} s")
    print(f"efficiency vs ideal: run {ideal / engine_s:.2f}, bare loop {ideal / bare_s:.2f}; without the "
          f"{startup_s:.2f} s a process takes to import litellm and exit: run {ideal / (engine_s - startup_s):.2f}, "
          f"bare loop {ideal / (bare_s - startup_s):.2f}")
    print(f"efficiency vs bare loop: {bare_s / engine_s:.2f} (target ≥ 0.95)")


if __name__ == "__main__":
    main()
