"""A batch: several skills run together (a taxonomy branch's changed skills), one run each with
its own flow, all sharing one teacher's bound on requests in flight.

A skill that cannot start (it does not parse, mixes examples with and without context, its file
vanished) is reported and the rest go on; a run that fails does not stop the others; `--resume
BATCH_ID` resumes every run of the batch that did not complete.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from lab_tui.pipeline.engine import RunParams, RunResult, new_id, run_flow, start_run
from lab_tui.pipeline.events import Event
from lab_tui.pipeline.flow import FlowError, default_flow_for, load_flow
from lab_tui.pipeline.teacher import Teacher, TeacherProfile
from lab_tui.seeds import load_skill
from lab_tui.store import rows as reads
from lab_tui.store.db import open_db


@dataclass
class BatchStart:
    batch_id: str
    runs: dict[str, Path]
    """run id -> skill file, for the skills that started."""
    refused: dict[Path, str]
    """skill file -> why it could not start."""


def start_batch(db_path: Path | str, skills: list[Path], profile: TeacherProfile, params: RunParams) -> BatchStart:
    """Create one run per skill under a new batch id (each skill gets its own flow unless `params.flow`)."""
    batch_id = new_id("batch-")
    db = open_db(db_path)
    started, refused = {}, {}
    for path in skills:
        loaded = load_skill(path)
        if loaded.skill is None:
            finding = loaded.findings[0] if loaded.findings else None
            refused[path] = finding.message if finding else "cannot be read"
            continue
        try:
            counts = {b.count_param for b in load_flow(params.flow or default_flow_for(loaded.skill.examples)).blocks}
            own = replace(params, overrides=dict(params.overrides),  # a count only for the flows that have it
                          contexts=params.contexts if "contexts" in counts else None,
                          questions=params.questions if "questions" in counts else None)
            run_id = start_run(db, loaded.skill, profile, own, batch_id=batch_id)
        except FlowError as error:
            refused[path] = str(error)
            continue
        started[run_id] = path
    return BatchStart(batch_id, started, refused)


def unfinished_runs(db_path: Path | str, batch_id: str) -> list[str]:
    runs = reads.batch_runs(open_db(db_path), batch_id)
    if not runs:
        raise FlowError(f"There is no batch {batch_id} in this database.")
    return [run["id"] for run in runs if run["status"] != "completed"]


async def run_batch(db_path: Path | str, run_ids: list[str], profile: TeacherProfile, concurrency: int, *,
                    on_event: Callable[[Event], None] = lambda e: None,
                    cancel: asyncio.Event | None = None) -> dict[str, RunResult | BaseException]:
    """Run (or resume) the given runs together; each run's result, or what stopped it."""
    teacher = Teacher(profile, concurrency)
    outcomes = await asyncio.gather(*(run_flow(db_path, run_id, on_event=on_event, cancel=cancel, profile=profile,
                                               teacher=teacher) for run_id in run_ids), return_exceptions=True)
    return dict(zip(run_ids, outcomes))
