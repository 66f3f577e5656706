"""A batch: several skills run together (a taxonomy branch's changed skills), one run each with
its own flow, all sharing one teacher's bound on requests in flight.

A skill that cannot start (it does not parse, mixes examples with and without context, its file
vanished) is reported and the rest go on; a run that fails does not stop the others; `--resume
BATCH_ID` resumes every run of the batch that did not complete.

One process feeds ~100 requests a second at most (litellm's CPU per call), so `run_in_workers`
spreads a batch's runs over worker processes, one core each: they write the one database (SQLite
in WAL mode: one writer at a time, each write a short transaction) and split the concurrency
between them (their bounds add up to the batch's). A worker sends its runs' progress and results
to the caller, which draws them as if the runs were its own; a worker that dies has its unfinished
runs recorded as failed (resumable), and a worker whose caller dies stops at once, as the caller's
own runs would. Each worker talks to the caller over pipes of its own: a worker killed part way
through a message must not hold a lock the others need (a shared multiprocessing Queue or Event
would leave every other worker waiting on it for ever).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from lab_tui.errors import UserError
from lab_tui.pipeline import launch
from lab_tui.pipeline.engine import RunResult, new_id, run_flow
from lab_tui.pipeline.events import Event, RunFinished, RunProgress, RunStarted
from lab_tui.pipeline.flow import FlowError
from lab_tui.pipeline.params import RunParams
from lab_tui.pipeline.teacher import Teacher, TeacherProfile
from lab_tui.store import rows as reads
from lab_tui.store import runs as store
from lab_tui.store.db import open_db

FORWARD_EVERY_S = 0.25
"""How often a worker sends its runs' latest progress (the live views redraw 4 times a second)."""


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


class WorkerDied(RuntimeError):
    """A worker process ended without saying how its runs ended: they are recorded as failed."""


def shares(run_ids: list[str], concurrency: int, workers: int) -> list[tuple[list[str], int]]:
    """(runs, concurrency) for each worker: runs dealt in turn, the concurrency split so the shares
    add up to it (no worker gets none of either)."""
    workers = max(1, min(workers, len(run_ids), concurrency))
    return [(run_ids[index::workers], concurrency // workers + (index < concurrency % workers))
            for index in range(workers)]


async def run_in_workers(db_path: Path | str, run_ids: list[str], profile: TeacherProfile, concurrency: int,
                         workers: int, *, on_event: Callable[[Event], None] = lambda e: None,
                         cancel: asyncio.Event | None = None) -> dict[str, RunResult | BaseException]:
    """`run_batch` over up to `workers` processes (one: in this one); `on_event` gets each run's
    progress (at most `FORWARD_EVERY_S` old), `RunStarted` and `RunFinished`."""
    dealt = shares(run_ids, concurrency, workers)
    if len(dealt) == 1:
        return await run_batch(db_path, run_ids, profile, concurrency, on_event=on_event, cancel=cancel)
    store.hand_over(open_db(db_path), run_ids)
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads and an event loop
    processes, readers, stops = [], [], []
    for number, (share, slots) in enumerate(dealt):
        reader, writer = context.Pipe(duplex=False)
        stop_reader, stop_writer = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(str(db_path), share, profile, slots, writer, stop_reader),
                                  name=f"lab-tui batch worker {number + 1}")
        process.start()
        writer.close()  # the worker's end: its pipe reads as ended once the worker has
        stop_reader.close()
        processes.append(process)
        readers.append(reader)
        stops.append(stop_writer)
    results: dict[str, RunResult | BaseException] = {}
    cancel = cancel or asyncio.Event()
    try:
        while readers:
            if cancel.is_set():
                _stop(stops)
            for message in await asyncio.to_thread(_received, readers, FORWARD_EVERY_S):
                _take(message, results, on_event)
    finally:
        _stop(stops)
        for process in processes:  # the caller itself stopped (cancelled, an error): the workers too
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    db = open_db(db_path)
    for process, (share, _) in zip(processes, dealt):
        for run_id in share:
            if run_id not in results:
                why = f"its worker process ended with exit code {process.exitcode} before the run did"
                store.mark_run(db, run_id, "failed", error=why)
                results[run_id] = WorkerDied(why)
                on_event(RunFinished(run_id, "failed", why))
    return {run_id: results[run_id] for run_id in run_ids}


def _received(readers: list, timeout: float) -> list:
    """The messages the workers have sent, waiting up to `timeout` for one; a worker's pipe that has
    ended (the worker exited, or died part way through a message) is dropped from `readers`."""
    messages = []
    for reader in multiprocessing.connection.wait(readers, timeout):
        try:
            messages.append(reader.recv())
        except (EOFError, OSError):
            readers.remove(reader)
    return messages


def _stop(stops: list) -> None:
    """Tell every worker to stop: its stop pipe reads as ready once this end is closed."""
    for stop in stops:
        stop.close()


def _take(message, results: dict, on_event: Callable[[Event], None]) -> None:
    kind, value = message
    if kind == "event":
        on_event(value)
    else:
        run_id, outcome = value
        results[run_id] = outcome if isinstance(outcome, RunResult) else RuntimeError(outcome)


def _worker(db_path: str, run_ids: list[str], profile: TeacherProfile, concurrency: int, messages, stop) -> None:
    """A worker process: its runs as one batch of their own, sent to the caller through `messages`
    (its own pipe), told to stop when `stop` (its own pipe from the caller) becomes readable."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl+c reaches the whole process group: the caller decides
    asyncio.run(_work(db_path, run_ids, profile, concurrency, messages, stop, os.getppid()))


async def _work(db_path: str, run_ids: list[str], profile: TeacherProfile, concurrency: int, messages, stop,
                parent: int) -> None:
    from lab_tui.pipeline.teacher import close_clients

    latest: dict[str, RunProgress] = {}
    cancel = asyncio.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, RunProgress):
            latest[event.run_id] = event
        elif isinstance(event, (RunStarted, RunFinished)):
            if isinstance(event, RunFinished) and event.run_id in latest:
                messages.send(("event", latest.pop(event.run_id)))
            messages.send(("event", event))

    async def forward() -> None:
        while True:
            if os.getppid() != parent:  # the caller was killed: stop as its own runs would have, at once
                os._exit(1)
            if stop.poll():
                cancel.set()
            for run_id in list(latest):
                messages.send(("event", latest.pop(run_id)))
            await asyncio.sleep(FORWARD_EVERY_S)

    forwarding = asyncio.create_task(forward())
    try:
        outcomes = await run_batch(db_path, run_ids, profile, concurrency, on_event=on_event, cancel=cancel)
    finally:
        forwarding.cancel()
        await close_clients()
    for run_id, outcome in outcomes.items():
        messages.send(("result", (run_id, outcome if isinstance(outcome, RunResult) else str(outcome))))
