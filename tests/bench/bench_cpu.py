"""Benchmark: CPU per 1,000 requests of `lab-tui run` against a bare `litellm.acompletion` loop.

A fast teacher (no latency; the suite's server in its own process, tests/bench/counting_teacher.py)
makes the client the bottleneck. For each size, `lab-tui run` runs the bundled grounded skill in
its own process; then tests/bench/bare_loop.py sends the very requests that run sent (read back
from its database; the teacher checks the body digests match) at the same concurrency. The CPU
counted is user+sys of the client process only (the teacher is another process).

Per run it prints requests, wall, CPU and CPU per 1,000 requests (start-up included); across two
or more sizes, the marginal CPU per 1,000 requests (the slope of CPU against requests, which
leaves out what a process pays once: imports, set-up, the report) and lab-tui's ratio to the
bare loop (issue 20's target: <= 1.25). `--floors` also sends the same requests through the
OpenAI SDK alone and through one pooled httpx client: what the HTTP work costs under litellm.
`--other-litellm PYTHON` also runs the bare loop with another interpreter, e.g. one with another
litellm release (bench_sdg_hub.py's venv has 1.84.10): what a release costs per call.

Usage: .venv/bin/python tests/bench/bench_cpu.py [--sizes 10,50] [--questions 3] [--concurrency 32] [--rounds 1]
       [--floors] [--other-litellm PYTHON]   (sizes are contexts per seed example; the skill has 5 seed examples)
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness import BENCH, SKILL, Teacher, lab_tui_run, load, measured, warm  # noqa: E402


def sent_requests(db: Path, out: Path) -> int:
    """Write the requests a lab-tui run sent, in the order it created them, as bare_loop.py reads them."""
    with sqlite3.connect(db) as connection, out.open("w", encoding="utf-8") as lines:
        count = 0
        for messages, params in connection.execute("SELECT messages, params FROM requests ORDER BY rowid"):
            params = json.loads(params)
            lines.write(json.dumps({"messages": json.loads(messages), "temperature": params["temperature"],
                                    "max_tokens": params["max_tokens"]}) + "\n")
            count += 1
    return count


def slope(points: list[tuple[int, float]]) -> float | None:
    """Least-squares CPU seconds per request over (requests, CPU seconds) points."""
    if len({n for n, _ in points}) < 2:
        return None
    mean_n = sum(n for n, _ in points) / len(points)
    mean_c = sum(c for _, c in points) / len(points)
    return (sum((n - mean_n) * (c - mean_c) for n, c in points) / sum((n - mean_n) ** 2 for n, _ in points))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50", help="contexts per seed example, comma-separated")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--floors", action="store_true", help="also the OpenAI SDK alone and a bare httpx client")
    parser.add_argument("--other-litellm", metavar="PYTHON", help="also the bare loop run by this interpreter")
    args = parser.parse_args()
    warm()
    clients = {"bare loop": (sys.executable, "litellm"),
               **({"openai SDK": (sys.executable, "openai"), "httpx": (sys.executable, "httpx")} if args.floors else {})}
    if args.other_litellm:
        version = subprocess.run([args.other_litellm, "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        clients[f"bare {version}"] = (args.other_litellm, "litellm")
    points: dict[str, list[tuple[int, float]]] = {"lab-tui": [], **{tool: [] for tool in clients}}
    rounds: dict[int, dict[str, list[tuple[int, float]]]] = {}
    print(f"grounded_skills on the bundled skill, {args.questions} questions per context, concurrency "
          f"{args.concurrency}, teacher with no latency in its own process; CPU = user+sys of the client process")
    print(f"{'round':>5} {'contexts':>8} {'tool':<15} {'requests':>8} {'wall s':>7} {'CPU s':>6} {'user':>6} {'sys':>5} "
          f"{'CPU s/1k':>8} {'req/s':>6}  load before")
    with Teacher() as teacher, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        teacher.stats()
        for round_ in range(1, args.rounds + 1):
            for contexts in (int(s) for s in args.sizes.split(",")):
                name = f"lab-{round_}-{contexts}"
                before = load()
                lab = lab_tui_run([SKILL], teacher.api_base, folder, name, contexts=contexts,
                                  questions=args.questions, concurrency=args.concurrency)
                lab_stats = teacher.stats()
                requests = sent_requests(lab["db"], folder / f"{name}.jsonl")
                if requests != lab_stats["requests"]:
                    raise SystemExit(f"lab-tui stored {requests} requests but the teacher counted {lab_stats['requests']}")
                runs = [("lab-tui", lab, before)]
                for tool, (python, client) in clients.items():
                    seen = load()
                    bare = measured([python, str(BENCH / "bare_loop.py"), str(folder / f"{name}.jsonl"),
                                     teacher.api_base, str(args.concurrency), client],
                                    folder / f"{tool.replace(' ', '-')}-{round_}-{contexts}.log")
                    if teacher.stats()["digests"] != lab_stats["digests"]:
                        raise SystemExit(f"the {tool} did not send the requests lab-tui sent")
                    runs.append((tool, bare, seen))
                for tool, result, seen in runs:
                    points[tool].append((requests, result["cpu_s"]))
                    rounds.setdefault(round_, {}).setdefault(tool, []).append((requests, result["cpu_s"]))
                    print(f"{round_:>5} {contexts:>8} {tool:<15} {requests:>8} {result['wall_s']:>7.2f} "
                          f"{result['cpu_s']:>6.2f} {result['user_s']:>6.2f} {result['sys_s']:>5.2f} "
                          f"{1000 * result['cpu_s'] / requests:>8.2f} {requests / result['wall_s']:>6.1f}  {seen}",
                          flush=True)
    per_request = {tool: slope(found) for tool, found in points.items()}
    if args.rounds > 1 and per_request["lab-tui"] is not None:  # on a shared machine the rounds differ: show each
        for round_, found in rounds.items():
            own = {tool: slope(pairs) for tool, pairs in found.items()}
            print(f"round {round_}: " + ", ".join(f"{tool} {1000 * cost:.2f}" for tool, cost in own.items()) +
                  f" CPU s per 1,000 requests at the margin; lab-tui / bare loop {own['lab-tui'] / own['bare loop']:.2f}")
    if per_request["lab-tui"] is not None and per_request["bare loop"]:
        fixed = {tool: sum(c - per_request[tool] * n for n, c in found) / len(found) for tool, found in points.items()}
        for tool in points:
            print(f"{tool + ':':<16} {1000 * per_request[tool]:5.2f} CPU s per 1,000 requests at the margin; "
                  f"{fixed[tool]:5.2f} CPU s paid once per process (start-up and ending)")
        print(f"lab-tui / bare loop, CPU per request at the margin: {per_request['lab-tui'] / per_request['bare loop']:.2f} "
              "(target <= 1.25)")


if __name__ == "__main__":
    main()
