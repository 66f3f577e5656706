"""Benchmark: replay recorded teacher answers through the parsers; print the share that parse, by stage.

Answers come from a JSONL file (one {"flow", "stage", "finish_reason", "answer"} per line; the
default file holds the shapes small local teachers were seen writing) or from a lab-tui database
(`--db lab.db [--run RUN_ID]`: every stored answer of that run, parsed again with today's
parsers, so a user can see what a parser change would have kept of their own runs).
Usage: .venv/bin/python tests/bench/bench_parsers.py [--answers FILE | --db PATH [--run RUN_ID]]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from lab_tui.pipeline.engine import parse_answer
from lab_tui.pipeline.flow import load_flow, stored_flow
from lab_tui.pipeline.parsers import ParseError

ANSWERS = Path(__file__).with_name("recorded_answers.jsonl")


def from_file(path: Path):
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            yield load_flow(item["flow"]).block(item["stage"]), item["answer"], item.get("finish_reason", "stop")


def from_db(path: Path, run_id: str | None):
    from lab_tui.store import rows as reads
    from lab_tui.store.db import open_db

    db = open_db(path)
    run_ids = [run_id] if run_id else [run["id"] for run in db.query("SELECT id FROM runs")]
    for rid in run_ids:
        flow = stored_flow(json.loads(reads.run_row(db, rid)["flow"]))
        for stage, answer, finish in db.execute(
                "SELECT stage, response, finish_reason FROM requests WHERE run_id = ? AND response IS NOT NULL", [rid]):
            yield flow.block(stage), answer, finish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=Path, default=ANSWERS)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--run")
    args = parser.parse_args()
    answers = from_db(args.db, args.run) if args.db else from_file(args.answers)
    parsed, seen, reasons = Counter(), Counter(), Counter()
    for block, answer, finish in answers:
        seen[block.name] += 1
        try:
            parse_answer(block, answer, finish)
            parsed[block.name] += 1
        except ParseError as error:
            reasons[(block.name, str(error)[:50])] += 1
    for stage in seen:
        print(f"{stage:<28} {parsed[stage]:>4} of {seen[stage]:<4} parse ({parsed[stage] / seen[stage]:.0%})")
    total = sum(seen.values())
    print(f"{'all':<28} {sum(parsed.values()):>4} of {total:<4} parse ({sum(parsed.values()) / total:.0%})")
    for (stage, reason), count in reasons.most_common():
        print(f"  unusable at {stage}: {reason} ×{count}")


if __name__ == "__main__":
    main()
