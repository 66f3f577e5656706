"""Benchmark: runs of growing size against the suite's teacher at a fixed latency (issue "at any size").

For each size it runs `lab-tui run` in its own process (the grounded flow on the bundled skill,
contexts per seed example chosen to give the total) and prints: requests/s over the first and
the last quarter of the requests (by answer time), the ratio of the two, seconds from the first request to the first pair (and, apart, the start-up before the first
request: mostly litellm's import), the process's peak RSS and the database size.
Usage: .venv/bin/python tests/bench/bench_scale.py [--sizes 150,1500,10000] [--latency 0.05]
       [--concurrency 64] [--questions 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED_EXAMPLES = 5
"""The bundled skill's seed examples: contexts are asked for per seed example."""


def rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


def one(size: int, api_base: str, concurrency: int, questions: int, folder: Path) -> dict:
    db_path = folder / f"lab-{size}.db"
    env = dict(os.environ, LAB_TUI_HOME=str(folder / "home"))
    command = [sys.executable, "-m", "lab_tui", "run", str(REPO / "lab_tui" / "data" / "quarterly_email" / "qna.yaml"),
               "--api-base", api_base, "--contexts", str(size // SEED_EXAMPLES), "--questions", str(questions),
               "--concurrency", str(concurrency), "--db", str(db_path)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    import sqlite3

    db = sqlite3.connect(db_path)
    created = datetime.fromisoformat(db.execute("SELECT created_at FROM runs").fetchone()[0]).timestamp()
    first_sent = datetime.fromisoformat(db.execute("SELECT min(created_at) FROM requests").fetchone()[0]).timestamp()
    answered = sorted(datetime.fromisoformat(t).timestamp() for (t,) in db.execute(
        "SELECT answered_at FROM requests WHERE answered_at IS NOT NULL"))
    first_pair = db.execute("SELECT min(created_at) FROM pairs").fetchone()[0]
    mean_latency = db.execute("SELECT avg(latency_s) FROM requests WHERE latency_s IS NOT NULL").fetchone()[0]
    quarter = max(2, len(answered) // 4)
    first_rate, last_rate = rate(answered[:quarter]), rate(answered[-quarter:])
    db.close()
    return {"contexts": size, "requests": len(answered), "wall_s": wall, "first_rate": first_rate,
            "last_rate": last_rate, "ratio": last_rate / first_rate if first_rate else 0.0,
            "first_pair_s": datetime.fromisoformat(first_pair).timestamp() - first_sent if first_pair else None,
            "startup_s": first_sent - created, "latency_s": mean_latency,
            "peak_rss_mb": max(peak_kb, before) / 1024, "db_mb": db_path.stat().st_size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="150,1500,10000")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--questions", type=int, default=1)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, str(REPO / "tests" / "teacher_server.py"), "--latency",
                               str(args.latency)], stdout=subprocess.PIPE, text=True)
    try:
        api_base = server.stdout.readline().strip()
        print(f"teacher latency {args.latency} s at the server, concurrency {args.concurrency}, {args.questions} "
              "question(s) per context; first pair target: 10 teacher latencies (the mean the client measured, "
              "queueing included) + 2 s")
        print(f"{'contexts':>8} {'requests':>8} {'wall s':>7} {'first q/s':>9} {'last q/s':>8} {'ratio':>5} "
              f"{'1st pair s':>10} {'target s':>8} {'start-up s':>10} {'peak RSS MB':>11} {'db MB':>6}")
        with tempfile.TemporaryDirectory() as tmp:
            for size in (int(s) for s in args.sizes.split(",")):
                r = one(size, api_base, args.concurrency, args.questions, Path(tmp))
                print(f"{r['contexts']:>8} {r['requests']:>8} {r['wall_s']:>7.1f} {r['first_rate']:>9.1f} "
                      f"{r['last_rate']:>8.1f} {r['ratio']:>5.2f} {r['first_pair_s']:>10.2f} {10 * r['latency_s'] + 2:>8.2f} "
                      f"{r['startup_s']:>10.2f} "
                      f"{r['peak_rss_mb']:>11.0f} {r['db_mb']:>6.1f}", flush=True)
    finally:
        server.kill()


if __name__ == "__main__":
    main()
