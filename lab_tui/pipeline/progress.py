"""A rich view of a run's progress for the CLI, built from the engine's events."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from lab_tui.pipeline.events import RunProgress


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def progress_table(progress: RunProgress | None) -> Table:
    table = Table(box=None, pad_edge=False, expand=False)
    table.add_column("stage", no_wrap=True, min_width=28)
    for column in ("queued", "flight", "done", "kept", "filtered", "failed", "tokens in/out"):
        table.add_column(column, justify="right", no_wrap=True)
    if progress is None:
        table.caption = "starting…"
        return table
    for stage in progress.stages:
        table.add_row(Text(stage.stage), *(str(v) for v in (stage.queued, stage.in_flight, stage.done, stage.kept,
                                                             stage.filtered, stage.failed)),
                      f"{stage.tokens_in}/{stage.tokens_out}")
    latency = f"{progress.mean_latency_s:.2f} s" if progress.mean_latency_s is not None else "–"
    table.caption = (f"{progress.requests_done} requests · {progress.requests_per_s:.1f} req/s · "
                     f"elapsed {_duration(progress.elapsed_s)} · ETA {_duration(progress.eta_s)} · "
                     f"teacher latency {latency}")
    return table
