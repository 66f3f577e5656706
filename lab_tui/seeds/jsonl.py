"""The seed JSONL of the LAB skills notebooks: one seed example per line.

Each line is `{"task_description", "seed_context", "seed_question", "seed_response"}`; the task
description repeats on every line, so the first one names the skill.
"""

from __future__ import annotations

import json
from pathlib import Path

from lab_tui.seeds.model import Finding, SeedExample, Skill
from lab_tui.seeds.yamlio import LoadResult

JSONL_KEYS = ("task_description", "seed_context", "seed_question", "seed_response")


def parse_jsonl_skill(text: str, path: Path | None = None) -> LoadResult:
    findings: list[Finding] = []
    examples: list[SeedExample] = []
    task = ""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            findings.append(Finding("jsonl/syntax", "error", f"Line {number} is not JSON: {error.msg}.",
                                    line=number, column=error.colno))
            continue
        except RecursionError:
            findings.append(Finding("jsonl/too-deep", "error",
                                    f"Line {number} nests too deeply to read: a seed record is one flat object.",
                                    line=number))
            continue
        if not isinstance(record, dict):
            findings.append(Finding("jsonl/not-an-object", "error",
                                    f"Line {number} must be a JSON object with {', '.join(JSONL_KEYS)}.", line=number))
            continue
        missing = [key for key in ("seed_question", "seed_response") if key not in record]
        if missing:
            findings.append(Finding("jsonl/missing-key", "error",
                                    f"Line {number} has no {' or '.join(missing)}.", example=len(examples), line=number))
        unknown = [key for key in record if key not in JSONL_KEYS]
        if unknown:
            findings.append(Finding("jsonl/unknown-key", "warning",
                                    f"Line {number} has keys the notebooks do not read: {', '.join(unknown)}.",
                                    example=len(examples), line=number))
        this_task = str(record.get("task_description") or "")
        if task and this_task and this_task != task:
            findings.append(Finding("jsonl/task-differs", "warning",
                                    f"Line {number} has a different task_description from the first line; a seed "
                                    "file describes one task, and saving writes the first one on every line.",
                                    example=len(examples), field="task_description", line=number))
        task = task or this_task
        context = record.get("seed_context")
        examples.append(SeedExample(
            question=str(record.get("seed_question") or ""),
            answer=str(record.get("seed_response") or ""),
            context=None if context is None else str(context),
            extra={k: v for k, v in record.items() if k not in JSONL_KEYS},
        ))
        records.append(record)
    if not examples and not findings:
        findings.append(Finding("schema/empty", "error", "The file has no seed examples.", line=1))
    skill = Skill(task_description=task, examples=examples, version=3, path=path, format="jsonl",
                  source_text=text) if examples else None
    return LoadResult(skill, findings, records, text)


def dump_jsonl_skill(skill: Skill) -> str:
    lines = []
    for example in skill.examples:
        record = {
            "task_description": skill.task_description,
            "seed_context": example.context or "",
            "seed_question": example.question,
            "seed_response": example.answer,
        }
        record.update(example.extra)
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n"
