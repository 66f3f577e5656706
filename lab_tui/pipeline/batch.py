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

from lab_tui.errors import UserError
from lab_tui.pipeline import launch
from lab_tui.pipeline.engine import RunResult, new_id, run_flow
from lab_tui.pipeline.events import Event
from lab_tui.pipeline.flow import FlowError
from lab_tui.pipeline.params import RunParams
from lab_tui.pipeline.teacher import Teacher, TeacherProfile
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
    """Create one run per skill under a new batch id (each skill gets its own flow unless `params.flow`;
    a count applies to the flows that have it)."""
    batch_id = new_id("batch-")
    started, refused = {}, {}
    for path in skills:
        own = replace(params, counts=dict(params.counts), overrides=dict(params.overrides))
        try:
            started[launch.start(db_path, path, profile, own, batch_id=batch_id, strict_counts=False)] = path
        except UserError as error:
            refused[path] = str(error)
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
