"""Benchmark: `lab-tui lint` on one skill with thousands of seed examples (issue 16).

Writes a qna.yaml of N grounded examples whose words follow a Zipf law (a few words in every
text, most words rare, as in real writing) and whose questions share an opening, with 2 % near-
duplicates of earlier examples and 1 % repeated contexts so the diversity rules have something to
find, and no example repeated whole (so InstructLab's uniqueness check runs to the end, as on a
clean skill); then times `lab-tui lint FILE --format json` as a whole process. Usage:
.venv/bin/python tests/bench/bench_lint_big.py [--sizes 4000,20000,100000] [--repeat R] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMON = ("the a of to and in is for on that with as it be by this are from at or an was have not "
          "which can your will more all their has one about but would what when they there been").split()


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "tu", "sa", "vel", "or", "di", "an", "pre", "ist", "mon", "ter", "qua"]
    words = list(COMMON)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def sentence(rng: random.Random, words: list[str], weights: list[float], count: int) -> str:
    return " ".join(rng.choices(words, weights, k=count))


def skill_text(examples: int, seed: int = 1) -> str:
    """A version-3 grounded qna.yaml with `examples` seed examples."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    made: list[tuple[str, str, str]] = []
    for index in range(examples):
        roll = rng.random()
        context = sentence(rng, words, weights, rng.randint(30, 80)).capitalize() + "."
        question = "What does the text say about " + sentence(rng, words, weights, rng.randint(4, 12)) + "?"
        answer = sentence(rng, words, weights, rng.randint(8, 60)).capitalize() + "."
        if made and roll < 0.01:
            context = rng.choice(made)[0]
        elif made and roll < 0.03:
            context, question, answer = rng.choice(made)
            question = question.replace(" ", " also ", 1)
            answer = answer + " indeed"
        made.append((context, question, answer))
    lines = ["version: 3", "task_description: Answer questions about a report for new employees, in a short paragraph.",
             "created_by: bench", "seed_examples:"]
    for context, question, answer in made:
        lines += [f"  - context: {context}", f"    question: {question}", f"    answer: {answer}"]
    return "\n".join(lines) + "\n"


def lint_once(path: Path) -> tuple[float, float, int]:
    """Wall time, CPU time (the machine is shared: CPU time is what other work does not inflate) and findings."""
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lab_tui", "lint", str(path), "--format", "json"],
                          capture_output=True, text=True, check=False)
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode not in (0, 1):
        raise SystemExit(f"lint failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, cpu, len(json.loads(done.stdout)[0]["findings"])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="4000,20000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the generated skills here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in (int(s) for s in args.sizes.split(",")):
            path = folder / f"skill_{size}.yaml"
            path.write_text(skill_text(size))
            runs = [lint_once(path) for _ in range(args.repeat)]
            times = [elapsed for elapsed, _, _ in runs]
            print(f"{size:>7} examples ({path.stat().st_size / 1e6:.1f} MB): median {statistics.median(times):.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f}, {args.repeat} runs; CPU "
                  f"{statistics.median(cpu for _, cpu, _ in runs):.2f} s); {runs[0][2]} findings; "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
