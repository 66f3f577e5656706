"""The async engine: every row flows to the next stage as soon as it exists.

Each generated context starts its own chain (questions, judge, filter, response, judge,
filter, combine) at once, so stage 2 starts on the first context rather than the tenth; one
semaphore in the teacher bounds requests in flight. Everything is written to SQLite as it
happens, on the caller's thread (one connection: one writer). Ids are hashes of what a thing is,
so a resumed run finds stored answers and sends only what has none.

Use from any asyncio loop (the CLI's, or the Textual app's: never wrap it in `asyncio.run`):

    run_id = start_run(open_db(db_path), skill, load_profile(), RunParams(contexts=10, concurrency=16))
    result = await run_flow(db_path, run_id, on_event=handler, cancel=cancel_event)
    await close_clients()   # from lab_tui.pipeline.teacher, once, at shutdown

`handler` receives the dataclasses of `lab_tui.pipeline.events` synchronously on the loop (keep it
cheap: store the latest `RunProgress`, redraw on a timer). Setting `cancel` stops sending, lets
requests already sent land, and returns status "cancelled"; `run_flow(db_path, run_id)` again
resumes. `run_flow` raises `FlowError` when the run cannot start (unknown id, prompts changed,
still running elsewhere) and re-raises anything that stopped it (the run is then marked failed).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import sqlite_utils

from lab_tui.pipeline.events import Event, RowDone, RowFailed, RunFinished, RunProgress, RunStarted, StageProgress
from lab_tui.pipeline.flow import OUTPUT_TAG, Block, Flow, FlowError, load_flow
from lab_tui.pipeline.parsers import ParseError, extract_tag, parse_judgement
from lab_tui.pipeline.teacher import Answer, Stopped, Teacher, TeacherError, TeacherProfile
from lab_tui.seeds.model import Skill
from lab_tui.store import runs as store
from lab_tui.store.db import open_db
from lab_tui.store.queries import pid_alive

PREVIEW_COUNTS = {"contexts": 2, "questions": 2}
STOP_GRACE_S = 15.0
"""On cancel, requests already sent get this long to be answered and stored before being dropped."""


@dataclass
class RunParams:
    contexts: int | None = None
    questions: int | None = None
    concurrency: int = 16
    prompts_dir: str | None = None
    preview_seed: int | None = None
    """Preview: run on this one seed example with small counts."""
    overrides: dict = field(default_factory=dict)
    """Flow settings for this run only, as {"BLOCK.KEY": value}: temperature, max_tokens, threshold, count."""

    def flow_overrides(self) -> dict:
        counts = dict(PREVIEW_COUNTS) if self.preview_seed is not None else {}
        counts.update({k: v for k, v in (("contexts", self.contexts), ("questions", self.questions)) if v})
        return {**self.overrides, **counts}


@dataclass
class RunResult:
    run_id: str
    status: str
    stages: tuple[StageProgress, ...]
    failures: dict[str, int]
    distinct_contexts: int
    wall_s: float
    error: str | None = None


def skill_snapshot(skill: Skill) -> dict:
    return {
        "task_description": skill.task_description,
        "examples": [{"context": e.context, "question": e.question, "answer": e.answer} for e in skill.examples],
        "path": str(skill.path) if skill.path else None,
    }


def start_run(db: sqlite_utils.Database, skill: Skill, profile: TeacherProfile, params: RunParams) -> str:
    """Create the run row (after checking the flow can run) and return its id."""
    flow = load_flow(params.prompts_dir, params.flow_overrides())
    if not [e for e in skill.examples if e.context]:
        raise FlowError("The grounded flow needs seed examples with a context; this skill has none.")
    if params.preview_seed is not None and not (0 <= params.preview_seed < len(skill.examples)
                                                and skill.examples[params.preview_seed].context):
        raise FlowError(f"There is no seed example {params.preview_seed + 1} with a context to preview "
                        f"(the skill has {len(skill.examples)} seed examples).")
    for block in flow.blocks:  # store the counts actually used, defaults included
        if block.count_param in ("contexts", "questions"):
            setattr(params, block.count_param, block.count)
    run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    store.create_run(db, run_id=run_id, skill_path=str(skill.path) if skill.path else None,
                     skill_snapshot=skill_snapshot(skill), flow=flow.stored(), prompts_version=flow.version,
                     teacher=profile.public(), params=vars(params))
    return run_id


class _Stage:
    def __init__(self, name: str) -> None:
        self.name = name
        self.counts = Counter()

    def progress(self) -> StageProgress:
        return StageProgress(self.name, **{k: self.counts[k] for k in
                                           ("queued", "in_flight", "done", "kept", "filtered", "failed",
                                            "tokens_in", "tokens_out")})


@dataclass
class _Row:
    data: dict
    id: str | None
    """The stored row this is (None for the run's root); the next stage's rows hang under it."""
    seed_index: int
    path: tuple = field(default_factory=tuple)
    """Sample indices from the root, part of every row id."""


class Engine:
    def __init__(self, db: sqlite_utils.Database, run_id: str, flow: Flow, seeds: list[dict], task: str,
                 teacher: Teacher, on_event: Callable[[Event], None]) -> None:
        self.db, self.run_id, self.flow, self.seeds, self.task = db, run_id, flow, seeds, task
        self.teacher, self.on_event = teacher, on_event
        self.stages = {b.name: _Stage(b.name) for b in flow.blocks}
        self.failures: Counter = Counter()
        self.started = time.monotonic()
        self.latencies: list[float] = []
        self.requests_done = 0
        self.tasks: set[asyncio.Task] = set()
        self.stop = asyncio.Event()

    # ----- events -------------------------------------------------------------------------

    def progress(self) -> RunProgress:
        elapsed = time.monotonic() - self.started
        rate = self.requests_done / elapsed if elapsed > 0 else 0.0
        remaining = max(0, self.expected_requests() - self.requests_done) if self.tasks else 0
        return RunProgress(self.run_id, tuple(s.progress() for s in self.stages.values()), elapsed,
                           self.requests_done, rate, remaining / rate if rate > 0 else None,
                           sum(self.latencies) / len(self.latencies) if self.latencies else None)

    def expected_requests(self) -> int:
        """Requests the run will send, with filters assumed to keep, and requests to succeed, as
        often as they have so far."""
        total, rows = 0, 1.0
        for block in self.flow.blocks:
            stage = self.stages[block.name].counts
            if block.type in ("llm", "judge"):
                rows *= block.count if block.type == "llm" else 1
                total += rows
                if stage["done"]:
                    rows *= 1 - stage["failed"] / stage["done"]
            elif block.type == "filter":
                seen = stage["kept"] + stage["filtered"]
                rows *= stage["kept"] / seen if seen else 1.0
        return round(total)

    def emit(self) -> None:
        self.on_event(self.progress())

    # ----- requests -----------------------------------------------------------------------

    async def ask(self, block: Block, row: _Row, sample: int, values: dict) -> tuple[Answer | None, str | None, str]:
        """(answer, failure reason, request id); a stored answer is reused without sending.

        Raises `Stopped` when the run is being cancelled and this request was not sent yet."""
        messages = block.prompt.render(values)
        params = {"model": self.teacher.profile.model, "temperature": block.temperature, "max_tokens": block.max_tokens}
        request_id = store.stable_id(self.run_id, messages, params, sample)  # another run asks afresh
        stage = self.stages[block.name].counts
        stored = store.stored_answer(self.db, request_id)
        if stored is not None:
            answer = Answer(stored["response"], stored["finish_reason"], stored["tokens_in"] or 0,
                            stored["tokens_out"] or 0, stored["latency_s"] or 0.0, stored["attempts"])
            stage["tokens_in"] += answer.tokens_in  # the run's tokens, whichever process paid for them
            stage["tokens_out"] += answer.tokens_out
            return answer, None, request_id
        if self.stop.is_set():
            raise Stopped()
        store.begin_request(self.db, id=request_id, run_id=self.run_id, stage=block.name, messages=messages,
                            params=params)
        stage["queued"] += 1
        self.emit()
        started = False

        def attempt(number: int) -> None:
            nonlocal started
            if not started:
                started = True
                stage["queued"] -= 1
                stage["in_flight"] += 1
                self.emit()

        def answered(answer: Answer) -> None:
            store.finish_request(self.db, request_id, response=answer.text, finish_reason=answer.finish_reason,
                                 tokens_in=answer.tokens_in, tokens_out=answer.tokens_out, latency_s=answer.latency_s,
                                 attempts=answer.attempts, error=None, answered_at=store.now())

        try:
            answer = await self.teacher.complete(messages, temperature=block.temperature, max_tokens=block.max_tokens,
                                                 on_answer=answered, on_attempt=attempt, stop=self.stop)
        except TeacherError as error:
            store.finish_request(self.db, request_id, attempts=error.attempts, error=str(error))
            return None, f"teacher error: {error}", request_id
        finally:
            if started:
                stage["in_flight"] -= 1
                self.requests_done += 1
            else:
                stage["queued"] -= 1
        stage["tokens_in"] += answer.tokens_in
        stage["tokens_out"] += answer.tokens_out
        self.latencies.append(answer.latency_s)
        return answer, None, request_id

    # ----- rows ---------------------------------------------------------------------------

    def row_id(self, block: Block, row: _Row, sample: int | None = None) -> str:
        return store.stable_id(self.run_id, block.name, row.path + ((sample,) if sample is not None else ()))

    def save_row(self, block: Block, row: _Row, parent_id: str | None, status: str, *, reason: str | None = None,
                 request_id: str | None = None, score: float | None = None, explanation: str | None = None,
                 raw: str | None = None) -> None:
        data = dict(row.data)
        if raw is not None:
            data["raw"] = raw
        row_id = row.id
        store.record_row(self.db, id=row_id, run_id=self.run_id, stage=block.name, parent_id=parent_id,
                         request_id=request_id, seed_index=row.seed_index, data=data, status=status, reason=reason,
                         score=score, explanation=explanation)
        counts = self.stages[block.name].counts
        counts["done"] += 1
        if status in ("kept", "filtered", "failed"):
            counts[status] += 1
        if status == "failed":
            self.failures[f"{block.name}: {reason}"] += 1
            self.on_event(RowFailed(self.run_id, block.name, row_id, reason or "", raw or ""))
        else:
            preview = " ".join(str(row.data.get(block.output or "question", "")).split())[:120]
            self.on_event(RowDone(self.run_id, block.name, row_id, status, preview))
        self.emit()

    def values(self, row: _Row, sample: int) -> dict:
        seed = self.seeds[row.seed_index]
        return {"task_description": self.task, "seed_context": seed["context"] or "",
                "seed_question": seed["question"], "seed_response": seed["answer"], "sample_index": sample + 1,
                **row.data}

    def spawn(self, index: int, row: _Row) -> None:
        if index < len(self.flow.blocks) and not self.stop.is_set():
            self.track(self.step(index, row))

    def track(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def step(self, index: int, row: _Row) -> None:
        block = self.flow.blocks[index]
        if block.type == "llm":
            for sample in range(block.count):
                seed_index = (row.seed_index + sample) % len(self.seeds) if index else sample % len(self.seeds)
                self.track(self.generate(index, block, replace(row, seed_index=seed_index), sample))
        elif block.type == "judge":
            await self.judge(index, block, row)
        elif block.type == "filter":
            self.filter(index, block, row)
        elif block.type == "combine":
            self.combine(block, row)

    async def parsed_answer(self, block: Block, row: _Row, child: _Row, sample: int, parse):
        """Ask and parse: (value, request id), or (None, ...) once the failure is saved as a failed row
        (or nothing is saved when the run is stopping)."""
        try:
            answer, failure, request_id = await self.ask(block, row, sample, self.values(row, sample))
        except Stopped:
            return None, None
        if answer is None:
            self.save_row(block, child, row.id, "failed", reason=failure, request_id=request_id)
            return None, request_id
        try:
            if answer.finish_reason == "length":
                raise ParseError("truncated at max tokens")
            return parse(answer.text), request_id
        except ParseError as error:
            self.save_row(block, child, row.id, "failed", reason=str(error), request_id=request_id, raw=answer.text)
            return None, request_id

    async def generate(self, index: int, block: Block, row: _Row, sample: int) -> None:
        child = _Row(dict(row.data), self.row_id(block, row, sample), row.seed_index, row.path + (sample,))
        value, request_id = await self.parsed_answer(block, row, child, sample,
                                                     lambda text: extract_tag(text, OUTPUT_TAG[block.output]))
        if value is None:
            return
        child.data[block.output] = value
        self.save_row(block, child, row.id, "ok", request_id=request_id)
        self.spawn(index + 1, child)

    async def judge(self, index: int, block: Block, row: _Row) -> None:
        child = _Row(dict(row.data), self.row_id(block, row), row.seed_index, row.path)
        judgement, request_id = await self.parsed_answer(block, row, child, 0,
                                                         lambda text: parse_judgement(text, block.scores))
        if judgement is None:
            return
        child.data[f"{block.name}.score"] = judgement.score
        child.data[f"{block.name}.explanation"] = judgement.explanation
        self.save_row(block, child, row.id, "ok", request_id=request_id, score=judgement.score,
                      explanation=judgement.explanation)
        self.spawn(index + 1, child)

    def filter(self, index: int, block: Block, row: _Row) -> None:
        row_id = self.row_id(block, row)
        score = row.data[f"{block.judge}.score"]
        child = _Row(row.data, row_id, row.seed_index, row.path)
        if score >= block.threshold:
            self.save_row(block, child, row.id, "kept", score=score)
            self.spawn(index + 1, child)
            return
        self.save_row(block, child, row.id, "filtered", score=score,
                      reason=f"{block.judge} score {score:g} < {block.threshold:g}")
        if "response" in row.data:
            self.record_pair(row, "filtered")

    def combine(self, block: Block, row: _Row) -> None:
        row_id = self.row_id(block, row)
        data = dict(row.data, user_turn=f"{row.data['context']}\n\n{row.data['question']}")
        self.save_row(block, _Row(data, row_id, row.seed_index, row.path), row.id, "ok")
        self.record_pair(_Row(data, row_id, row.seed_index, row.path), "kept")

    def record_pair(self, row: _Row, outcome: str) -> None:
        """A pair's id is the id of the row that generated its response."""
        data = row.data
        responder = next(b for b in self.flow.blocks if b.output == "response")
        store.record_pair(
            self.db, id=store.stable_id(self.run_id, responder.name, row.path), run_id=self.run_id,
            seed_index=row.seed_index,
            context=data["context"], question=data["question"], response=data["response"],
            user_turn=f"{data['context']}\n\n{data['question']}",
            question_score=data.get("eval_grounded_questions.score"),
            question_explanation=data.get("eval_grounded_questions.explanation"),
            pair_score=data.get("evaluate_grounded_qa_pair.score"),
            pair_explanation=data.get("evaluate_grounded_qa_pair.explanation"), outcome=outcome,
        )

    async def run(self, cancel: asyncio.Event) -> bool:
        """True when every chain finished; False when cancelled."""
        self.spawn(0, _Row({}, None, 0, ()))
        cancelled = asyncio.create_task(cancel.wait())
        try:
            while self.tasks:
                done, _ = await asyncio.wait(self.tasks | {cancelled}, return_when=asyncio.FIRST_COMPLETED)
                if cancelled in done:
                    self.stop.set()
                    if self.tasks:
                        await asyncio.wait(set(self.tasks), timeout=STOP_GRACE_S)
                    for task in list(self.tasks):
                        task.cancel()
                    await asyncio.gather(*self.tasks, return_exceptions=True)
                    return False
                for task in done:
                    if task is not cancelled and not task.cancelled() and task.exception():
                        raise task.exception()
            return True
        finally:
            cancelled.cancel()
            for task in list(self.tasks):  # run() itself cancelled (e.g. the app quits): no orphans
                task.cancel()


def _load(db: sqlite_utils.Database, run_id: str) -> dict:
    rows = list(db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    if not rows:
        raise FlowError(f"There is no run {run_id} in this database.")
    return rows[0]


async def run_flow(db_path: Path | str, run_id: str, *, on_event: Callable[[Event], None] = lambda e: None,
                   cancel: asyncio.Event | None = None, profile: TeacherProfile | None = None,
                   concurrency: int | None = None) -> RunResult:
    """Run (or resume) a run created by `start_run`, on the caller's event loop.

    `profile` and `concurrency` replace the stored ones (a resume may use another endpoint or a
    gentler rate); request ids depend on neither the endpoint nor the rate, so nothing answered
    is sent again (another *model* does answer afresh: the model is part of a request's id)."""
    from lab_tui.pipeline.report import build_report

    db = open_db(db_path)
    run = _load(db, run_id)
    if run["status"] == "running" and run["pid"] != os.getpid() and pid_alive(run["pid"]):
        raise FlowError(f"Run {run_id} is still running in process {run['pid']}; two processes on one run would "
                        "send its requests twice. Stop that one first.")
    params = RunParams(**json.loads(run["params"]))
    flow = load_flow(params.prompts_dir, params.flow_overrides())
    if flow.version != run["prompts_version"]:
        raise FlowError(f"The prompts changed since run {run_id} started (version {run['prompts_version']}, now "
                        f"{flow.version}); resuming would send different requests. Start a new run instead.")
    snapshot = json.loads(run["skill_snapshot"])
    seeds = [e for e in snapshot["examples"] if e.get("context")]
    if params.preview_seed is not None:
        seeds = [snapshot["examples"][params.preview_seed]]
    stored_profile = json.loads(run["teacher"])
    profile = profile or TeacherProfile(**stored_profile)
    teacher = Teacher(profile, concurrency or params.concurrency)
    engine = Engine(db, run_id, flow, seeds, snapshot["task_description"], teacher, on_event)
    resumed = run["status"] != "running" or bool(db.execute("SELECT 1 FROM requests WHERE run_id = ? LIMIT 1",
                                                            [run_id]).fetchone())
    store.mark_run(db, run_id, "running")
    on_event(RunStarted(run_id, tuple(b.name for b in flow.blocks), resumed))
    status, error = "completed", None
    try:
        if not await engine.run(cancel or asyncio.Event()):
            status = "cancelled"
    except asyncio.CancelledError:
        status = "cancelled"
        raise
    except Exception as caught:  # the run could not complete: recorded, then re-raised for the caller
        status, error = "failed", f"{type(caught).__name__}: {caught}"
        raise
    finally:
        store.mark_run(db, run_id, status, error=error)
        if status != "failed":
            try:
                store.mark_run(db, run_id, status, error=error, report=build_report(db, run_id))
            except Exception as caught:  # the rows are all stored; `lab-tui report` can rebuild it
                store.mark_run(db, run_id, status, error=f"the report could not be built: "
                                                         f"{type(caught).__name__}: {caught}")
        on_event(engine.progress())
        on_event(RunFinished(run_id, status, error))
    distinct = db.execute("SELECT count(DISTINCT json_extract(data, '$.context')) FROM rows "
                          "WHERE run_id = ? AND stage = ? AND status = 'ok'", [run_id, flow.blocks[0].name]).fetchone()[0]
    return RunResult(run_id, status, engine.progress().stages, dict(engine.failures), distinct,
                     time.monotonic() - engine.started, error)
