"""A run's progress as the store knows it, for a run of another process and for past runs
(a running engine's own progress comes as events; `render.progress_view` draws either)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from lab_tui.pipeline.events import EndpointProgress, RunProgress, StageProgress
from lab_tui.pipeline.flow import FlowError, stored_flow
from lab_tui.store.rows import json_dict, progress_counts, run_progress


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
    created, finished, status, flow_json = counts["times"]
    try:
        names = [block.name for block in stored_flow(json_dict(flow_json)).blocks]
    except FlowError:
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
