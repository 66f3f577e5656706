"""A rich view of a run's progress for the CLI, built from the engine's events."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from rich.table import Table
from rich.text import Text

from lab_tui.pipeline.events import EndpointProgress, RunProgress, StageProgress
from lab_tui.pipeline.flow import FlowError, stored_flow
from lab_tui.store.rows import progress_counts, run_progress


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def progress_table(progress: RunProgress | None) -> Table:
    table = Table(box=None, pad_edge=False, expand=False)
    table.add_column("stage", overflow="ellipsis", min_width=12)  # the one column that gives way at 80
    for column in ("queue", "fly", "done", "kept", "filt", "fail", "tok in", "tok out"):
        table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    if progress is None:
        table.caption = "starting…"
        return table
    for stage in progress.stages:
        table.add_row(Text(stage.stage), *(str(v) for v in (stage.queued, stage.in_flight, stage.done, stage.kept,
                                                             stage.filtered, stage.failed, stage.tokens_in,
                                                             stage.tokens_out)))
    latency = f"{progress.mean_latency_s:.2f} s" if progress.mean_latency_s is not None else "–"
    table.caption = (f"{progress.requests_done} requests · {progress.requests_per_s:.1f} req/s · "
                     f"elapsed {_duration(progress.elapsed_s)} · ETA {_duration(progress.eta_s)} · "
                     f"teacher latency {latency}")
    return table


def saved_progress(db, run_id: str) -> tuple[RunProgress, str] | None:
    """The snapshot a running engine saves each second (one row read, whatever the run's size)."""
    row = run_progress(db, run_id)
    if row is None or not row[0]:
        return None
    values = json.loads(row[0])
    values["stages"] = tuple(StageProgress(**stage) for stage in values["stages"])
    values["endpoints"] = tuple(EndpointProgress(**endpoint) for endpoint in values.get("endpoints", ()))
    return RunProgress(**values), row[1]


def endpoint_table(progress: RunProgress | None) -> Table | None:
    """One line per endpoint of a profile with several: answers a second, latency, in flight,
    errors, and whether litellm's Router is resting it. None for a one-server teacher."""
    if progress is None or len(progress.endpoints) < 2:
        return None
    table = Table(box=None, pad_edge=False, expand=False)
    table.add_column("endpoint", no_wrap=True, min_width=28)
    for column in ("req/s", "latency", "flight", "answered", "errors", "state"):
        table.add_column(column, justify="right", no_wrap=True)
    for endpoint in progress.endpoints:
        latency = f"{endpoint.mean_latency_s:.2f} s" if endpoint.mean_latency_s is not None else "–"
        table.add_row(Text(endpoint.api_base), f"{endpoint.requests_per_s:.1f}", latency, str(endpoint.in_flight),
                      str(endpoint.answered), str(endpoint.errors), "cooling" if endpoint.cooling else "ok")
    return table


def stored_progress(db, run_id: str) -> tuple[RunProgress, str]:
    """A run's progress and status as the store knows them: for runs of another process, which
    send no events here, and for past runs. A running run's saved snapshot is read as is; a
    finished one is counted from its rows (once). Stages come from the run's own flow."""
    snapshot = saved_progress(db, run_id)
    if snapshot is not None and snapshot[1] == "running":
        return snapshot
    counts = progress_counts(db, run_id)
    created, finished, status, flow_json = counts["times"]
    try:
        names = [block.name for block in stored_flow(json.loads(flow_json)).blocks]
    except (FlowError, ValueError):
        names = []
    stages = {name: dict.fromkeys(("in_flight", "done", "kept", "filtered", "failed", "tokens_in", "tokens_out"), 0)
              for name in names}
    for stage, row_status, count in counts["rows"]:
        values = stages.setdefault(stage, dict.fromkeys(("in_flight", "done", "kept", "filtered", "failed",
                                                         "tokens_in", "tokens_out"), 0))
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
    progress = RunProgress(run_id, tuple(StageProgress(name, **values) for name, values in stages.items()), elapsed,
                           int(answered), answered / elapsed if elapsed else 0.0, None,
                           latency / answered if answered else None)
    return progress, status
