"""A run's progress: what the whole run is expected to do (rows per stage, requests, the time left),
which the engine's events and the store's view share; and the progress as the store knows it, for
a run of another process and for past runs (`render.progress_view` draws either)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import Mapping, Sequence

from lab_tui.pipeline.events import EndpointProgress, RunProgress, StageProgress
from lab_tui.pipeline.flow import FlowError
from lab_tui.pipeline.params import RunParams
from lab_tui.store.rows import json_dict, progress_counts, run_progress


def planned_work(blocks: Sequence, seeds: int, counts: Mapping[str, Mapping[str, int]]) -> tuple[list[float], float]:
    """(rows each block is expected to make over the whole run, requests the run will send in all),
    from the flow's counts and the number of seed examples: each block makes `count` rows per row
    coming in, and passes on what its kind expects (`Block.expect`: filters and failures drop as
    often as they have so far, per its stage's `counts`), or what it did pass on when that is more."""
    planned, requests, rows = [], 0.0, float(seeds)
    for block in blocks:
        planned.append(rows * block.count)
        stage = counts.get(block.name) or _NONE
        asked, rows = block.expect(rows, stage)
        rows = max(rows, stage["done"] - stage["failed"] - stage["filtered"])
        requests += asked
    return planned, requests


_NONE: Mapping[str, int] = {"done": 0, "kept": 0, "filtered": 0, "failed": 0}


def with_plan(stages: Sequence[StageProgress], estimates: Sequence[float], *, completed: bool,
              feeding: bool = False) -> tuple[StageProgress, ...]:
    """The stages with their `planned` rows, so that a bar is full only when its stage's work is:
    never below what a stage has made and has on the way, above what it made while an earlier stage
    (or, `feeding`, the admission of the first stage's work) is not done (more rows may come), and
    exactly what it made once the run completed."""
    shown, earlier_open = [], feeding
    for stage, estimate in zip(stages, estimates):
        if completed:
            planned = stage.done
        else:
            planned = max(round(estimate), stage.done + stage.queued + stage.in_flight)
            if earlier_open:
                planned = max(planned, stage.done + 1)
            earlier_open = earlier_open or planned > stage.done
        shown.append(replace(stage, planned=planned))
    return tuple(shown)


def eta_s(requests_planned: float, requests_done: int, requests_reused: int, elapsed_s: float) -> float | None:
    """Seconds left: the run's planned requests not done yet, at the rate requests were answered so
    far (answers reused from the store are done but set no pace). None before any answer."""
    if requests_done <= 0 or elapsed_s <= 0:
        return None
    remaining = max(0.0, requests_planned - requests_done - requests_reused)
    return remaining * elapsed_s / requests_done


def saved_progress(db, run_id: str) -> tuple[RunProgress, str] | None:
    """The snapshot a running engine saves each second (one row read, whatever the run's size)."""
    row = run_progress(db, run_id)
    if row is None or not row[0]:
        return None
    values = json.loads(row[0])
    values["stages"] = tuple(StageProgress(**stage) for stage in values["stages"])
    values["endpoints"] = tuple(EndpointProgress(**endpoint) for endpoint in values.get("endpoints", ()))
    return RunProgress(**values), row[1]


def stored_progress(db, run_id: str) -> tuple[RunProgress, str]:
    """A run's progress and status as the store knows them: for runs of another process, which
    send no events here, and for past runs. A running run's saved snapshot is read as is; a
    finished one is counted from its rows (once). Stages come from the run's own flow."""
    snapshot = saved_progress(db, run_id)
    if snapshot is not None and snapshot[1] == "running":
        return snapshot
    counts = progress_counts(db, run_id)
    created, finished, status, flow_json, params_json, seeds = counts["times"]
    try:
        params = RunParams.stored(json_dict(params_json))
        blocks = params.stored_flow(json_dict(flow_json)).blocks
    except (FlowError, TypeError):  # a flow or parameters this lab-tui cannot read: the stages seen
        params, blocks = RunParams(), []
    stages = {block.name: dict.fromkeys(FIGURES, 0) for block in blocks}
    for stage, row_status, count in counts["rows"]:
        values = stages.setdefault(stage, dict.fromkeys(FIGURES, 0))
        values["done"] += count
        if row_status in ("kept", "filtered", "failed"):
            values[row_status] += count
    answered = latency = 0.0
    for stage, waiting, done, tokens_in, tokens_out, latency_sum in counts["requests"]:
        if stage in stages:
            stages[stage].update(in_flight=waiting or 0, tokens_in=int(tokens_in), tokens_out=int(tokens_out))
        answered += done or 0
        latency += latency_sum
    end = datetime.fromisoformat(finished) if finished else datetime.now(timezone.utc)
    elapsed = max(0.0, (end - datetime.fromisoformat(created)).total_seconds())
    estimates, requests = planned_work(blocks, 1 if params.preview_seed is not None else seeds or 0, stages)
    shown = [StageProgress(name, **values) for name, values in stages.items()]
    estimates = list(estimates) + [0.0] * (len(shown) - len(estimates))  # stages the stored flow no longer names
    progress = RunProgress(run_id, with_plan(shown, estimates, completed=status == "completed"), elapsed,
                           int(answered), answered / elapsed if elapsed else 0.0, None,
                           latency / answered if answered else None,
                           requests_planned=int(answered) if status == "completed" else max(round(requests),
                                                                                           int(answered)))
    return progress, status


FIGURES = ("in_flight", "done", "kept", "filtered", "failed", "tokens_in", "tokens_out")
