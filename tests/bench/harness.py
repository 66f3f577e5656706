"""What the process-level benchmarks share: the counting teacher in its own process, a command
measured as a whole process (wall, CPU of it and its children), and the machine's load."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "tests" / "bench"
SKILL = REPO / "lab_tui" / "data" / "quarterly_email" / "qna.yaml"


class Teacher:
    """tests/bench/counting_teacher.py in its own process; `stats()` counts what arrived since the last call."""

    def __init__(self, latency: float = 0.0, jitter: float = 0.0) -> None:
        self.process = subprocess.Popen([sys.executable, str(BENCH / "counting_teacher.py"), "--latency", str(latency),
                                         "--jitter", str(jitter)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.api_base = self.process.stdout.readline().strip()

    def stats(self) -> dict:
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> "Teacher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def measured(command: list[str], log: Path, env: dict | None = None) -> dict:
    """Run a command to its end: when it started (time.time()), wall seconds, CPU seconds (user+sys)
    of the process and the children it waited for (wait4's rusage). Exits with the log's tail if it fails."""
    with log.open("w") as out:
        started, clock = time.time(), time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - clock
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... exited {process.returncode}; see {log}:\n{log.read_text()[-2000:]}")
    return {"started": started, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "user_s": usage.ru_utime, "sys_s": usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}


def lab_tui_run(skills: list[Path], api_base: str, folder: Path, name: str, *, contexts: int, questions: int,
                concurrency: int, extra: tuple[str, ...] = ()) -> dict:
    """`lab-tui run SKILL...` as a user types it, in its own process with its own database; adds the
    database's path and the pairs kept to what `measured` returns."""
    db = folder / f"{name}.db"
    env = dict(os.environ, LAB_TUI_HOME=str(folder / "home"))
    result = measured([sys.executable, "-m", "lab_tui", "run", *map(str, skills), "--api-base", api_base,
                       "--contexts", str(contexts), "--questions", str(questions), "--concurrency", str(concurrency),
                       "--db", str(db), *extra], folder / f"{name}.log", env)
    with sqlite3.connect(db) as connection:
        result["pairs_kept"] = connection.execute("SELECT count(*) FROM pairs WHERE outcome = 'kept'").fetchone()[0]
    result["db"] = db
    return result


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def warm() -> None:
    """Import lab-tui's run path and litellm once, untimed: compiled bytecode and the page cache as on a second run."""
    subprocess.run([sys.executable, "-c", "import litellm, lab_tui.cli, lab_tui.commands.run, lab_tui.pipeline.engine"],
                   check=True, capture_output=True, env=dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True"))
