"""Benchmark: build the validation report and export a large run, as whole processes.

A run of N contexts × 3 questions (one response each) is written straight into a fresh database
with varied text, then `lab-tui report RUN --format json` and `lab-tui export --status all
--include-filtered` are timed. Usage: .venv/bin/python tests/bench/bench_report.py [--contexts N]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab_tui.store.db import open_db

WORDS = [f"w{n}" for n in range(5000)]


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, k=words))


def fill(db, contexts: int) -> int:
    rng = random.Random(7)
    now = "2026-11-25T08:00:00+00:00"
    examples = [{"context": text(rng, 60), "question": text(rng, 12), "answer": text(rng, 90)} for _ in range(5)]
    db["runs"].insert({"id": "bench", "created_at": now, "status": "completed", "skill_path": "qna.yaml",
                       "skill_snapshot": json.dumps({"task_description": "t", "examples": examples}), "flow": "{}",
                       "prompts_version": "v", "teacher": json.dumps({"model": "m"}),
                       "params": json.dumps({"contexts": contexts}), "pid": None})
    rows, pairs = [], []

    def row(stage, status="ok", **data):
        rows.append({"id": f"r{len(rows)}", "run_id": "bench", "stage": stage, "data": json.dumps(data),
                     "status": status, "score": data.pop("score", None), "created_at": now})

    for c in range(contexts):
        context = text(rng, 60)
        row("gen_contexts", context=context)
        for _ in range(3):
            question, response = text(rng, 12), text(rng, 80)
            row("gen_grounded_questions", question=question)
            row("eval_grounded_questions", score=1)
            row("filter_grounded_questions", "kept")
            row("gen_grounded_responses", response=response)
            score = rng.choice((1, 2, 3))
            row("evaluate_grounded_qa_pair", score=score)
            row("filter_grounded_qa_pair", "kept" if score >= 2 else "filtered")
            pairs.append({"id": f"p{len(pairs)}", "run_id": "bench", "context": context, "question": question,
                          "response": response, "outcome": "kept" if score >= 2 else "filtered", "created_at": now})
    with db.conn:
        db["rows"].insert_all(rows, batch_size=5000)
        db["pairs"].insert_all(pairs, batch_size=5000)
    return len(rows)


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lab_tui", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contexts", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lab.db"
        count = fill(open_db(path), args.contexts)
        report = timed(["report", "bench", "--format", "json", "--db", str(path)])
        export = timed(["export", "--run", "bench", "--status", "all", "--include-filtered", "-o",
                        str(Path(tmp) / "out.jsonl"), "--db", str(path)])
        print(f"{count} rows, {args.contexts * 3} pairs: report {report:.2f} s, export {export:.2f} s (whole processes)")


if __name__ == "__main__":
    main()
