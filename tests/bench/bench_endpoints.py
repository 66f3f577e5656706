"""Benchmark: one `lab-tui run` over 1, 2 and 4 endpoints of a profile, then one endpoint of two
killed mid-run, then two endpoints of unequal max_concurrency.

Each endpoint is a test teacher in its own process, answering at most C requests at once with a
fixed latency (a saturated GPU server in small); each endpoint's max_concurrency is C, so the
concurrency is N x C. Measured twice: independent requests through lab-tui's Teacher (the Router's
own scaling), and a whole `lab-tui run --profile fleet` (its time is the engine's wall time from
the run's summary; litellm's import is not in it), where a flow's chains (each pair is five
requests in a row) add a tail no number of endpoints shortens. The issue's target: N endpoints
take at most 1/N of the one-endpoint time, plus 10 %.

Then a run over two endpoints where one server is killed (SIGKILL) once a third of the requests
are answered: the run must complete with every request answered, once.

The default size is a run that lasts about 45 s on four endpoints: in a ten-second one (`--contexts
10 --requests 320`) costs that do not scale with the endpoints (litellm's first answers, the
chains' tail) are a few per cent of the time (README: both sizes).

Usage: .venv/bin/python tests/bench/bench_endpoints.py [--latency 1.0] [--per-server 8] [--contexts 25]
       [--requests 640]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKILL = REPO / "lab_tui/data/quarterly_email/qna.yaml"
sys.path.insert(0, str(REPO))


def start_servers(count: int, latency: float, per_server: int) -> list[tuple[subprocess.Popen, str]]:
    servers = []
    for _ in range(count):
        process = subprocess.Popen([sys.executable, str(REPO / "tests" / "teacher_server.py"), "--latency",
                                    str(latency), "--max-concurrency", str(per_server)], stdout=subprocess.PIPE,
                                   text=True)
        servers.append((process, process.stdout.readline().strip()))
    return servers


def write_fleet(home: str, bases: list[str], per_server: int) -> None:
    config = Path(home) / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.json").write_text(json.dumps({"teachers": {"fleet": {
        "model": "openai/teacher", "cooldown": 2.0,
        "endpoints": [{"api_base": base, "max_concurrency": per_server} for base in bases]}}}))


def run_command(db: Path, contexts: int) -> list[str]:
    return [sys.executable, "-m", "lab_tui", "run", str(SKILL), "--profile", "fleet", "--contexts", str(contexts),
            "--questions", "3", "--db", str(db)]


def timed_run(bases: list[str], per_server: int, contexts: int) -> tuple[float, int]:
    """(the run's wall time, requests answered)."""
    from lab_tui.store.db import open_db

    with tempfile.TemporaryDirectory() as home:
        write_fleet(home, bases, per_server)
        db = Path(home) / "lab.db"
        done = subprocess.run(run_command(db, contexts), env=dict(os.environ, LAB_TUI_HOME=home), check=True,
                              capture_output=True, text=True)
        wall = float(re.search(r"wall time: ([\d.]+) s", done.stdout).group(1))
        answered = open_db(db).execute("SELECT count(*) FROM requests WHERE response IS NOT NULL").fetchone()[0]
        return wall, answered


def requests_alone(bases: list[str], per_server: int, total: int) -> float:
    """Seconds for `total` independent requests through lab-tui's Teacher (litellm's Router over the
    endpoints), all queued at once: the Router's scaling without a flow's chains in the way."""
    import asyncio

    from lab_tui.pipeline.teacher import Endpoint, Teacher, TeacherProfile, close_clients

    async def go() -> float:
        teacher = Teacher(TeacherProfile(model="openai/teacher", endpoints=tuple(Endpoint(base, None, per_server)
                                                                                 for base in bases)),
                          len(bases) * per_server)
        await asyncio.to_thread(teacher.prepare)  # as a run does, before its clock
        started = time.perf_counter()
        await asyncio.gather(*(teacher.complete([{"role": "user", "content": f"Question {n} [Start of Question]"}],
                                                temperature=0.7, max_tokens=256) for n in range(total)))
        elapsed = time.perf_counter() - started
        await close_clients()
        return elapsed

    return asyncio.run(go())


def bare_loop(bases: list[str], per_server: int, total: int) -> float:
    """The same requests as bare `litellm.acompletion` calls dealt round-robin, each server under its
    own semaphore: what the client costs without lab-tui or the Router (a reference, not a target)."""
    import asyncio

    from lab_tui.pipeline.teacher import litellm_module

    litellm = litellm_module()

    async def go() -> float:
        slots = [asyncio.Semaphore(per_server) for _ in bases]

        async def one(n: int) -> None:
            async with slots[n % len(bases)]:
                await litellm.acompletion(model="openai/teacher", api_base=bases[n % len(bases)], api_key="x",
                                          num_retries=0, max_tokens=256,
                                          messages=[{"role": "user", "content": f"Question {n} [Start of Question]"}])

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(total)))
        return time.perf_counter() - started

    return asyncio.run(go())


def killed_mid_run(latency: float, per_server: int, contexts: int) -> None:
    from lab_tui.store.db import open_db

    servers = start_servers(2, latency, per_server)
    try:
        with tempfile.TemporaryDirectory() as home:
            write_fleet(home, [base for _, base in servers], per_server)
            db = Path(home) / "lab.db"
            run = subprocess.Popen(run_command(db, contexts), env=dict(os.environ, LAB_TUI_HOME=home),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            expected = contexts * 5 * 10  # about ten requests per context in the grounded flow
            while run.poll() is None:
                if db.exists():
                    answered = open_db(db).execute("SELECT count(*) FROM requests WHERE response IS NOT NULL")
                    if answered.fetchone()[0] >= expected // 3:
                        break
                time.sleep(0.2)
            killed_at = open_db(db).execute("SELECT count(*) FROM requests WHERE response IS NOT NULL").fetchone()[0]
            servers[1][0].send_signal(signal.SIGKILL)
            out, err = run.communicate()
            rows = open_db(db).execute(
                "SELECT count(*), count(response), count(DISTINCT id), sum(attempts > 1) FROM requests").fetchone()
            by_endpoint = dict(open_db(db).execute("SELECT endpoint, count(*) FROM requests GROUP BY endpoint"))
            failed = open_db(db).execute("SELECT count(*) FROM rows WHERE status = 'failed' AND reason LIKE "
                                         "'teacher error%'").fetchone()[0]
    finally:
        for process, _ in servers:
            process.kill()
    wall = re.search(r"wall time: ([\d.]+) s", out)
    print(f"one of two servers killed after {killed_at} answers: exit {run.returncode}, "
          f"wall {wall.group(1) if wall else '?'} s")
    print(f"  requests {rows[0]}, answered {rows[1]}, distinct ids {rows[2]}, answered after a retry {rows[3]}, "
          f"rows failed by the teacher {failed}")
    print(f"  answered by endpoint: {', '.join(f'{base}: {count}' for base, count in by_endpoint.items())}")
    ok = run.returncode == 0 and rows[0] == rows[1] == rows[2] and failed == 0
    print(f"  every request answered once: {'yes' if ok else 'NO'}")
    if not ok:
        print(err[-2000:])


def unequal_limits(latency: float, per_server: int, total: int) -> None:
    """Two endpoints of unequal max_concurrency (2C and C/2), each server answering that many at
    once: requests should split in proportion, each endpoint filled to its own limit."""
    import asyncio
    from collections import Counter

    from lab_tui.pipeline.teacher import Endpoint, Teacher, TeacherProfile, close_clients

    big, small = per_server * 2, max(1, per_server // 2)
    servers = start_servers(1, latency, big) + start_servers(1, latency, small)
    try:
        async def go() -> tuple[float, Counter]:
            teacher = Teacher(TeacherProfile(model="openai/teacher", endpoints=(
                Endpoint(servers[0][1], None, big), Endpoint(servers[1][1], None, small))))
            await asyncio.to_thread(teacher.prepare)
            started = time.perf_counter()
            answers = await asyncio.gather(*(teacher.complete(
                [{"role": "user", "content": f"Question {n} [Start of Question]"}], temperature=0.7, max_tokens=256)
                for n in range(total)))
            elapsed = time.perf_counter() - started
            await close_clients()
            return elapsed, Counter(answer.endpoint for answer in answers)

        elapsed, split = asyncio.run(go())
    finally:
        for process, _ in servers:
            process.kill()
    print(f"endpoints of {big} and {small} places, {total} requests: {elapsed:.1f} s "
          f"(ideal {total * latency / (big + small):.1f} s); answered {split[servers[0][1]]} and {split[servers[1][1]]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--per-server", type=int, default=8, help="C: requests each server answers at once")
    parser.add_argument("--contexts", type=int, default=25, help="contexts per seed example (5 seed examples)")
    parser.add_argument("--requests", type=int, default=640, help="independent requests for the Router alone")
    args = parser.parse_args()
    print(f"servers answer {args.per_server} requests at once, {args.latency} s each")
    for title, measure in ((f"{args.requests} independent requests through the Teacher (Router alone)",
                            lambda bases: (requests_alone(bases, args.per_server, args.requests), args.requests)),
                           (f"lab-tui run, grounded flow, {args.contexts} contexts x 5 seed examples, 3 questions",
                            lambda bases: timed_run(bases, args.per_server, args.contexts))):
        print(title)
        times = {}
        for count in (1, 2, 4):
            servers = start_servers(count, args.latency, args.per_server)
            try:
                times[count], answered = measure([base for _, base in servers])
            finally:
                for process, _ in servers:
                    process.kill()
            ideal = answered * args.latency / (count * args.per_server)
            line = (f"  {count} endpoint{'s' if count > 1 else ''}: {times[count]:.1f} s, {answered} requests, "
                    f"{answered / times[count]:.1f} req/s (ideal {ideal:.1f} s)")
            if count > 1:
                ratio, target = times[count] / times[1], 1 / count * 1.10
                line += f"; ratio to one endpoint {ratio:.3f} (target <= {target:.3f}: " \
                        f"{'met' if ratio <= target else 'MISSED'})"
            print(line, flush=True)
    servers = start_servers(4, args.latency, args.per_server)
    try:
        bare = bare_loop([base for _, base in servers], args.per_server, args.requests)
    finally:
        for process, _ in servers:
            process.kill()
    print(f"reference: the same {args.requests} requests as a bare litellm loop over 4 servers: {bare:.1f} s")
    killed_mid_run(args.latency, args.per_server, args.contexts)
    unequal_limits(args.latency, args.per_server, args.requests // 2)


if __name__ == "__main__":
    main()
