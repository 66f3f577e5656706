"""What a run reports while it goes: plain data for the CLI's live display and the Run pane.

The engine calls `on_event` for every change; consumers coalesce (the latest `RunProgress`
replaces older ones) and redraw at their own pace.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageProgress:
    stage: str
    queued: int = 0
    in_flight: int = 0
    done: int = 0
    kept: int = 0
    filtered: int = 0
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    planned: int = 0
    """Rows the stage is expected to make over the whole run (the flow's counts and the seeds; what
    its filters and failures drop as often as they have so far); at least what it has made and has
    on the way, more while an earlier stage still works, and what it made once the run completed.
    Its bar fills against this. 0: not known (a snapshot of an earlier lab-tui)."""


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    stages: tuple[str, ...]
    resumed: bool


@dataclass(frozen=True)
class EndpointProgress:
    """One teacher server's share of a run (a profile with several endpoints has one each)."""
    api_base: str
    answered: int = 0
    requests_per_s: float = 0.0
    mean_latency_s: float | None = None
    in_flight: int = 0
    errors: int = 0
    """Attempts that failed there (each retried elsewhere or later, or the row failed)."""
    cooling: bool = False
    """Resting after failures: litellm's Router sends it nothing until its cool-down ends."""


@dataclass(frozen=True)
class RunProgress:
    run_id: str
    stages: tuple[StageProgress, ...]
    elapsed_s: float
    requests_done: int
    requests_per_s: float
    eta_s: float | None
    mean_latency_s: float | None
    endpoints: tuple[EndpointProgress, ...] = ()
    requests_planned: int = 0
    """Requests the whole run is expected to send (answers reused from the store included): the
    "expected" of "so far / expected", and what the ETA counts down. 0: not known."""
    requests_reused: int = 0
    """Requests answered from the store (a resumed run) rather than sent: done, but not at the teacher's pace."""


@dataclass(frozen=True)
class RowFailed:
    run_id: str
    stage: str
    row_id: str
    reason: str
    raw: str


@dataclass(frozen=True)
class RowDone:
    run_id: str
    stage: str
    row_id: str
    status: str
    preview: str


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    status: str
    """completed | cancelled | failed"""
    error: str | None = None


Event = RunStarted | RunProgress | RowFailed | RowDone | RunFinished
