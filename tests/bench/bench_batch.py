"""Benchmark: requests per second of a 4-skill batch (`lab-tui run A B C D`) on a fast teacher.

Four copies of the bundled grounded skill (each task description marked with its number, so no two
skills send the same prompt) run as one batch against the suite's teacher with no latency, in its
own process (tests/bench/counting_teacher.py). The same work is then run as one skill in one
process (4 x the contexts per seed example): the figure of issue 20 is the batch's requests per
second over that one process's (target >= 1.7; a batch spreads its skills over worker processes,
`--workers`, default the machine's cores; `--extra=--workers=1` measures it in one process). Requests per second are counted
at the teacher, from the first request's arrival to the last answer (start-up apart); the CPU is
user+sys of the `lab-tui` process and its children (worker processes included), and the teacher's
own CPU is printed too: on a machine with few cores a teacher that needs a core of its own caps
what any client can reach.

`--extra` passes options to the batch's `lab-tui run` only (e.g. `--extra=--workers=4`), so the
same script compares one worker with several.

Usage: .venv/bin/python tests/bench/bench_batch.py [--contexts 10] [--questions 3] [--concurrency 32]
       [--rounds 1] [--extra=--workers=4]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness import SKILL, Teacher, lab_tui_run, load, warm  # noqa: E402

SKILLS = 4


def skill_copies(folder: Path) -> list[Path]:
    """Four skill files in their own folders, told apart by their task descriptions."""
    data = yaml.safe_load(SKILL.read_text(encoding="utf-8"))
    paths = []
    for number in range(1, SKILLS + 1):
        path = folder / f"skill-{number}" / "qna.yaml"
        path.parent.mkdir(parents=True)
        copy = dict(data, task_description=f"{data['task_description']} (skill {number} of the batch)")
        path.write_text(yaml.safe_dump(copy, sort_keys=False, allow_unicode=True), encoding="utf-8")
        paths.append(path)
    return paths


def line(name: str, result: dict, stats: dict) -> tuple[str, float]:
    span = stats["last_left"] - stats["first_arrived"]
    rate = stats["requests"] / span
    return (f"  {name:<28} {stats['requests']:>6} requests | {rate:7.1f} req/s at the teacher | wall "
            f"{result['wall_s']:6.1f} s (start-up {stats['first_arrived'] - result['started']:4.1f} s) | client CPU "
            f"{result['cpu_s']:6.1f} s ({1000 * result['cpu_s'] / stats['requests']:.1f} s per 1,000) | teacher CPU "
            f"{stats['server_cpu_s']:5.1f} s | pairs kept {result['pairs_kept']}"), rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=10, help="per seed example, per skill (the skill has 5)")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--extra", default="", help="options for the batch's `lab-tui run` only")
    args = parser.parse_args()
    warm()
    print(f"{SKILLS} copies of the bundled grounded skill, {args.contexts} contexts per seed example each, "
          f"{args.questions} questions per context, concurrency {args.concurrency}, teacher with no latency in its "
          f"own process; batch options: {args.extra or '(none)'}")
    with Teacher() as teacher, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        skills = skill_copies(folder)
        teacher.stats()
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}: {load()} before", flush=True)
            batch = lab_tui_run(skills, teacher.api_base, folder, f"batch-{round_}", contexts=args.contexts,
                                questions=args.questions, concurrency=args.concurrency,
                                extra=tuple(shlex.split(args.extra)))
            batch_line, batch_rate = line(f"batch of {SKILLS} skills", batch, teacher.stats())
            print(batch_line, flush=True)
            print(f"round {round_}: {load()} before", flush=True)
            single = lab_tui_run([skills[0]], teacher.api_base, folder, f"one-{round_}",
                                 contexts=SKILLS * args.contexts, questions=args.questions,
                                 concurrency=args.concurrency)
            single_line, single_rate = line("one skill, same work", single, teacher.stats())
            print(single_line)
            print(f"  batch / one process: {batch_rate / single_rate:.2f} x the requests per second (target >= 1.7)",
                  flush=True)


if __name__ == "__main__":
    main()
