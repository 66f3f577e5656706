"""The async engine: runs any flow; every row flows to the next block as soon as it exists.

Chains are admitted as capacity frees (one chain is one request of the flow's first block and all
that follows from it), so memory follows the concurrency, not the run's size. When several
requests wait for a slot, the deepest block goes first, so a run's first pairs exist a few
teacher latencies after it starts whatever its size. Bookkeeping is O(1) per request: running
sums, a pending-task counter and a done callback that records any task's failure (a task never
dies unseen: its exception fails the run). Everything is written to SQLite as it happens, on the
caller's thread (one connection: one writer); ids are hashes of what a thing is, so a resumed run
finds stored answers and sends only what has none.

Use from any asyncio loop (the CLI's, or the Textual app's: never wrap it in `asyncio.run`):

    run_id = start_run(open_db(db_path), skill, load_profile(), RunParams(concurrency=16))
    result = await run_flow(db_path, run_id, on_event=handler, cancel=cancel_event)
    await close_clients()   # from lab_tui.pipeline.teacher, once, at shutdown

`handler` receives the dataclasses of `lab_tui.pipeline.events` synchronously on the loop (keep it
cheap: store the latest `RunProgress`, redraw on a timer). Setting `cancel` stops sending, lets
requests already sent land, and returns status "cancelled"; `run_flow(db_path, run_id)` again
resumes. `run_flow` raises `FlowError` when the run cannot start (unknown id, still running
elsewhere) and re-raises anything that stopped it (the run is then marked failed).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import sqlite_utils

from lab_tui.pipeline.events import EndpointProgress, Event, RowDone, RowFailed, RunFinished, RunProgress, RunStarted, StageProgress
from lab_tui.pipeline.flow import SEED_FIELDS, Block, Flow, FlowError, default_flow_for, load_flow, stored_flow
from lab_tui.pipeline.parsers import ParseError, extract_all, parse_judgement
from lab_tui.pipeline.teacher import (Answer, Stopped, Teacher, TeacherError, TeacherProfile, load_profile,
                                      profile_names)
from lab_tui.seeds.model import Skill
from lab_tui.store import rows as reads
from lab_tui.store import runs as store
from lab_tui.store.db import open_db
from lab_tui.store.queries import pid_alive

STOP_GRACE_S = 15.0
"""On cancel, requests already sent get this long to be answered and stored before being dropped."""
PROGRESS_SAVE_EVERY_S = 1.0
"""How often the progress snapshot other processes read is written."""
CHAINS_PER_SLOT = 2
"""Chains admitted at once per request slot: enough waiting work to keep every slot busy."""


@dataclass
class RunParams:
    flow: str | None = None
    """A bundled flow's name or a flow folder; None: chosen from the skill as `ilab data generate` does."""
    contexts: int | None = None
    questions: int | None = None
    concurrency: int = 16
    preview_seed: int | None = None
    """Preview: run on this one seed example with small counts."""
    overrides: dict = field(default_factory=dict)
    """Flow settings for this run only, as {"BLOCK.KEY": value}: temperature, max_tokens, threshold, count."""
    teachers: dict = field(default_factory=dict)
    """Profiles (names only, no secrets) of blocks that use their own teacher, by profile name."""

    def flow_overrides(self) -> dict:
        counts = {k: v for k, v in (("contexts", self.contexts), ("questions", self.questions)) if v is not None}
        return {**self.overrides, **counts, "preview": self.preview_seed is not None}

    @classmethod
    def stored(cls, values: dict) -> "RunParams":
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


@dataclass
class RunResult:
    run_id: str
    status: str
    stages: tuple[StageProgress, ...]
    failures: dict[str, int]
    distinct_first: int
    """Distinct outputs of the flow's first block (contexts, or questions in a freeform flow)."""
    first_label: str
    wall_s: float
    error: str | None = None
    endpoints: tuple[EndpointProgress, ...] = ()
    """Each endpoint's share, for a teacher with several."""


class RunAborted(Exception):
    """The teacher cannot answer this run at all (a refused key, nothing answering): stop at once."""


def skill_snapshot(skill: Skill) -> dict:
    return {
        "task_description": skill.task_description,
        "examples": [{"context": e.context, "question": e.question, "answer": e.answer} for e in skill.examples],
        "path": str(skill.path) if skill.path else None,
    }


def _check_seeds(flow: Flow, skill: Skill, params: RunParams) -> None:
    examples = skill.examples
    if params.preview_seed is not None:
        if not 0 <= params.preview_seed < len(examples):
            raise FlowError(f"There is no seed example {params.preview_seed + 1} to preview "
                            f"(the skill has {len(examples)} seed examples).")
        examples = [examples[params.preview_seed]]
    if not examples:
        raise FlowError("The skill has no seed examples to run.")
    for variable in sorted(flow.seed_variables()):
        field_name = SEED_FIELDS[variable]
        empty = [i + 1 for i, e in enumerate(examples) if not getattr(e, field_name, None)]
        if empty:
            raise FlowError(f"The {flow.name} flow uses each seed example's {field_name}; seed example"
                            f"{'s' if len(empty) > 1 else ''} {', '.join(map(str, empty))} "
                            f"{'have' if len(empty) > 1 else 'has'} none (choose another flow with --flow).")


def start_run(db: sqlite_utils.Database, skill: Skill, profile: TeacherProfile, params: RunParams,
              batch_id: str | None = None) -> str:
    """Check that the flow can run on this skill, create the run row and return its id."""
    params.flow = params.flow or default_flow_for(skill.examples)
    flow = load_flow(params.flow, params.flow_overrides(), profiles=profile_names())
    _check_seeds(flow, skill, params)
    params.teachers = {b.teacher: load_profile(b.teacher).public() for b in flow.blocks if b.teacher}
    for block in flow.blocks:  # store the counts actually used, defaults included
        if block.count_param in ("contexts", "questions"):
            setattr(params, block.count_param, block.count)
    run_id = new_id()
    store.create_run(db, run_id=run_id, skill_path=str(skill.path) if skill.path else None,
                     skill_snapshot=skill_snapshot(skill), flow=flow.stored(), prompts_version=flow.version,
                     teacher=profile.public(), params=vars(params), batch_id=batch_id)
    return run_id


def new_id(prefix: str = "") -> str:
    """A run's (or batch's) id: when it started, and six random hex digits."""
    return prefix + time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


class _Stage:
    __slots__ = ("name", "counts")

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts = Counter()

    def progress(self) -> StageProgress:
        return StageProgress(self.name, **{k: self.counts[k] for k in
                                           ("queued", "in_flight", "done", "kept", "filtered", "failed",
                                            "tokens_in", "tokens_out")})


class _Chain:
    """One admitted request of the first block and everything that follows from it."""
    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = 0


@dataclass
class _Row:
    data: dict
    id: str | None
    """The stored row this is (None for a chain's root); the next block's rows hang under it."""
    seed_index: int
    path: tuple
    """The seed example and sample indices from the root: part of every row id."""
    chain: _Chain
    pair_id: str | None = None
    """The id of the row that generated the pair's response, once there is one: the pair's id."""


class Engine:
    def __init__(self, db: sqlite_utils.Database, run_id: str, flow: Flow, seeds: list[dict], task: str,
                 teachers: dict[str | None, Teacher], on_event: Callable[[Event], None]) -> None:
        self.db, self.run_id, self.flow, self.seeds, self.task = db, run_id, flow, seeds, task
        self.teachers, self.on_event = teachers, on_event
        self.stages = {b.name: _Stage(b.name) for b in flow.blocks}
        self.failures: Counter = Counter()
        self.started = time.monotonic()
        self.latency_sum = 0.0
        self.latency_count = 0
        self.requests_done = 0
        self.progress_saved = 0.0
        self.tasks: set[asyncio.Task] = set()
        self.pending = 0
        self.settled = asyncio.Event()
        self.error: BaseException | None = None
        self.stop = asyncio.Event()
        slots = teachers[None].concurrency
        self.admission = asyncio.Semaphore(max(8, CHAINS_PER_SLOT * slots))
        self.seen = {b.name: reads.first_outputs(db, run_id, b.name, b.writes) for b in flow.blocks if b.dedupe}
        """Per deduplicating block: text key -> the row that owns it (rebuilt from the store on resume)."""

    # ----- events -------------------------------------------------------------------------

    def progress(self) -> RunProgress:
        elapsed = time.monotonic() - self.started
        rate = self.requests_done / elapsed if elapsed > 0 else 0.0
        remaining = max(0, self.expected_requests() - self.requests_done) if self.pending else 0
        return RunProgress(self.run_id, tuple(s.progress() for s in self.stages.values()), elapsed,
                           self.requests_done, rate, remaining / rate if rate > 0 else None,
                           self.latency_sum / self.latency_count if self.latency_count else None,
                           tuple(figure for teacher in self.teachers.values() for figure in teacher.figures()))

    def expected_requests(self) -> int:
        """Requests the run will send, with filters assumed to keep, and requests to succeed, as
        often as they have so far."""
        total, rows = 0.0, float(len(self.seeds))
        for block in self.flow.blocks:
            stage = self.stages[block.name].counts
            if block.kind == "generate":
                total += rows if block.list else rows * block.count
                rows *= block.count
            elif block.kind == "judge":
                total += rows
            if block.asks and stage["done"]:
                rows *= 1 - (stage["failed"] + stage["filtered"]) / stage["done"]
            elif block.kind == "filter":
                seen = stage["kept"] + stage["filtered"]
                rows *= stage["kept"] / seen if seen else 1.0
        return round(total)

    def emit(self) -> None:
        progress = self.progress()
        if progress.elapsed_s - self.progress_saved >= PROGRESS_SAVE_EVERY_S:
            self.save_progress(progress)
        self.on_event(progress)

    def save_progress(self, progress: RunProgress) -> None:
        self.progress_saved = progress.elapsed_s
        store.save_progress(self.db, self.run_id, asdict(progress))

    # ----- tasks --------------------------------------------------------------------------

    def track(self, coroutine, chain: _Chain | None) -> asyncio.Task:
        if chain is not None:
            chain.pending += 1
        self.pending += 1
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(lambda done: self.settle(done, chain))
        return task

    def settle(self, task: asyncio.Task, chain: _Chain | None) -> None:
        self.tasks.discard(task)
        self.pending -= 1
        if chain is not None:
            chain.pending -= 1
            if chain.pending == 0:
                self.admission.release()
        if not task.cancelled() and task.exception() is not None and self.error is None:
            self.error = task.exception()
            self.settled.set()
        if self.pending == 0:
            self.settled.set()

    async def feed(self) -> None:
        """Admit the first block's requests one chain at a time, as capacity frees."""
        first = self.flow.blocks[0]
        for seed_index in range(len(self.seeds)):
            for sample in range(1 if first.list else first.count):
                await self.admission.acquire()
                if self.stop.is_set():
                    self.admission.release()
                    return
                chain = _Chain()
                root = _Row({}, None, seed_index, (seed_index,), chain)
                self.track(self.generate_then_advance(0, first, root, sample), chain)
        for teacher in self.teachers.values():  # every chain is in: the longest way to go first now
            teacher.slots.reverse()

    # ----- requests -----------------------------------------------------------------------

    async def ask(self, index: int, block: Block, row: _Row, sample: int) -> tuple[Answer | None, str | None, str]:
        """(answer, failure reason, request id); a stored answer is reused without sending.

        Raises `Stopped` when the run is being cancelled and this request was not sent yet, and
        `RunAborted` when the teacher cannot answer this run at all."""
        teacher = self.teachers.get(block.teacher) or self.teachers[None]
        messages = block.prompt.render(self.values(row, block, sample))
        params = {"model": teacher.profile.model, "temperature": block.temperature, "max_tokens": block.max_tokens}
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
        store.begin_request(self.db, id=request_id, run_id=self.run_id, stage=block.name, model=teacher.profile.model,
                            messages=messages, params=params)
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
                                 attempts=answer.attempts, error=None, answered_at=store.now(),
                                 endpoint=answer.endpoint)

        try:
            answer = await teacher.complete(messages, temperature=block.temperature, max_tokens=block.max_tokens,
                                            on_answer=answered, on_attempt=attempt, stop=self.stop, priority=-index,
                                            constrain=block.scores if block.kind == "judge" else None)
        except TeacherError as error:
            store.finish_request(self.db, request_id, attempts=error.attempts, error=str(error), endpoint=error.api_base)
            if error.fatal:
                self.stop.set()  # before any waiting request gets the slot this one frees
                raise RunAborted(error.advice()) from error
            return None, f"teacher error: {error}", request_id
        finally:
            if started:
                stage["in_flight"] -= 1
                self.requests_done += 1
            else:
                stage["queued"] -= 1
        stage["tokens_in"] += answer.tokens_in
        stage["tokens_out"] += answer.tokens_out
        self.latency_sum += answer.latency_s
        self.latency_count += 1
        return answer, None, request_id

    async def parsed_answer(self, index: int, block: Block, row: _Row, failed: _Row, sample: int):
        """Ask and parse: (value, request id), or (None, ...) once the failure is saved as the
        failed row `failed` (nothing is saved when the run is stopping)."""
        try:
            answer, failure, request_id = await self.ask(index, block, row, sample)
        except Stopped:
            return None, None
        if answer is None:
            self.save_row(block, failed, row.id, "failed", reason=failure, request_id=request_id)
            return None, request_id
        try:
            return parse_answer(block, answer.text, answer.finish_reason), request_id
        except ParseError as error:
            self.save_row(block, failed, row.id, "failed", reason=str(error), request_id=request_id, raw=answer.text)
            return None, request_id

    # ----- rows ---------------------------------------------------------------------------

    def row_id(self, block: Block, path: tuple) -> str:
        return store.stable_id(self.run_id, block.name, path)

    def save_row(self, block: Block, row: _Row, parent_id: str | None, status: str, *, reason: str | None = None,
                 request_id: str | None = None, score: float | None = None, explanation: str | None = None,
                 raw: str | None = None) -> None:
        data = dict(row.data)
        if raw is not None:
            data["raw"] = raw
        store.record_row(self.db, id=row.id, run_id=self.run_id, stage=block.name, parent_id=parent_id,
                         request_id=request_id, seed_index=row.seed_index, data=data, status=status, reason=reason,
                         score=score, explanation=explanation)
        counts = self.stages[block.name].counts
        counts["done"] += 1
        if status in ("kept", "filtered", "failed"):
            counts[status] += 1
        if status == "failed":
            self.failures[f"{block.name}: {reason}"] += 1
            self.on_event(RowFailed(self.run_id, block.name, row.id, reason or "", raw or ""))
        else:
            shown = row.data.get(block.writes) if block.writes else explanation
            if not shown and score is not None:
                shown = f"score {score:g}" + (f": {reason}" if reason else "")
            preview = " ".join(str(shown or reason or "").split())[:120]
            self.on_event(RowDone(self.run_id, block.name, row.id, status, preview))
        self.emit()

    def values(self, row: _Row, block: Block, sample: int) -> dict:
        seed = self.seeds[row.seed_index]
        fields = {name: (seed.get(field) or "") if field else self.task for name, field in SEED_FIELDS.items()}
        return {**fields, "sample_index": sample + 1, "num_samples": block.count, **row.data}

    def child(self, block: Block, row: _Row, path: tuple, **data) -> _Row:
        row_id = self.row_id(block, path)
        pair_id = row_id if block.writes == self.flow.pair.response and block.kind == "generate" else row.pair_id
        return _Row({**row.data, **data}, row_id, row.seed_index, path, row.chain, pair_id)

    async def generate(self, index: int, block: Block, row: _Row, sample: int) -> list[_Row]:
        """The rows a generation makes: one per sample, or one per tagged output of a list block."""
        failed = self.child(block, row, row.path + (sample,))
        values, request_id = await self.parsed_answer(index, block, row, failed, sample)
        children = []
        for number, value in enumerate(values or ()):
            path = row.path + ((sample, number) if block.list else (sample,))
            made = self.child(block, row, path, **{block.writes: value})
            if block.dedupe:
                owner = self.seen[block.name].setdefault(reads.text_key(value), made.id)
                if owner != made.id:
                    self.save_row(block, made, row.id, "filtered", request_id=request_id,
                                  reason=f"exact duplicate of an earlier {block.writes}")
                    continue
            self.save_row(block, made, row.id, "ok", request_id=request_id)
            children.append(made)
        return children

    async def generate_then_advance(self, index: int, block: Block, row: _Row, sample: int) -> None:
        children = await self.generate(index, block, row, sample)
        for made in children[1:]:
            self.track(self.advance(index + 1, made), row.chain)
        if children:
            await self.advance(index + 1, children[0])

    async def judge(self, index: int, block: Block, row: _Row) -> _Row | None:
        made = self.child(block, row, row.path)
        judgement, request_id = await self.parsed_answer(index, block, row, made, 0)
        if judgement is None:
            return None
        made.data[f"{block.name}.score"] = judgement.score
        made.data[f"{block.name}.explanation"] = judgement.explanation
        self.save_row(block, made, row.id, "ok", request_id=request_id, score=judgement.score,
                      explanation=judgement.explanation)
        return made

    def filter(self, index: int, block: Block, row: _Row) -> _Row | None:
        made = self.child(block, row, row.path)
        score = row.data[f"{block.judge}.score"]
        if block.keeps(score):
            self.save_row(block, made, row.id, "kept", score=score)
            return made
        self.save_row(block, made, row.id, "filtered", score=score, reason=block.drop_reason(score))
        if self.flow.pair.response in row.data:
            self.record_pair(index, made, "filtered")
        return None

    def derive(self, block: Block, row: _Row) -> _Row:
        """A static or combine block: no request, one row."""
        made = self.child(block, row, row.path, **{block.writes: _derived(block, row.data)})
        self.save_row(block, made, row.id, "ok")
        return made

    async def advance(self, index: int, row: _Row) -> None:
        """Carry a row through the blocks from `index`. A generation with several outputs goes on
        in one task per output (they share the row's chain)."""
        blocks = self.flow.blocks
        while index < len(blocks):
            if self.stop.is_set():
                return
            block = blocks[index]
            if block.kind == "generate":
                if block.count > 1 and not block.list:
                    for sample in range(block.count):
                        self.track(self.generate_then_advance(index, block, row, sample), row.chain)
                    return
                await self.generate_then_advance(index, block, row, 0)
                return
            if block.kind == "judge":
                row = await self.judge(index, block, row)
            elif block.kind == "filter":
                row = self.filter(index, block, row)
            else:
                row = self.derive(block, row)
            if row is None:
                return
            index += 1
        self.record_pair(index, row, "kept")

    def record_pair(self, index: int, row: _Row, outcome: str) -> None:
        """A pair's id is the id of the row that generated its response; a pair dropped by a filter
        still gets its user turn from the static and combine blocks after it."""
        spec, data = self.flow.pair, dict(row.data)
        for block in self.flow.blocks[index:]:
            if block.kind in ("static", "combine") and all(name in data for name in block.reads):
                data[block.writes] = _derived(block, data)
        judges = [{"judge": name, "label": self.flow.judge_label(name), "score": data.get(f"{name}.score"),
                   "explanation": data.get(f"{name}.explanation")} for name in spec.judges]
        scored = [judge["score"] for judge in judges if judge["score"] is not None]
        store.record_pair(
            self.db, id=row.pair_id, run_id=self.run_id, seed_index=row.seed_index,
            context=data.get(spec.context) if spec.context else None, question=data[spec.question],
            response=data[spec.response], user_turn=data.get(spec.user, data[spec.question]),
            score=scored[-1] if scored else None, scores=json.dumps(judges), outcome=outcome,
        )

    async def run(self, cancel: asyncio.Event) -> bool:
        """True when every chain finished; False when cancelled. Raises what stopped the run."""
        feeder = self.track(self.feed(), None)
        cancelled = asyncio.create_task(cancel.wait())
        settled = asyncio.create_task(self.settled.wait())
        try:
            await asyncio.wait({cancelled, settled}, return_when=asyncio.FIRST_COMPLETED)
            if self.error is not None:
                raise self.error
            if cancel.is_set():
                self.stop.set()
                if self.pending:
                    self.settled.clear()
                    feeder.cancel()  # admits no more chains; the admitted ones finish what was sent
                    try:
                        await asyncio.wait_for(self.settled.wait(), STOP_GRACE_S)
                    except asyncio.TimeoutError:
                        pass
                return False
            return True
        finally:
            cancelled.cancel()
            settled.cancel()
            for task in list(self.tasks):  # run() itself cancelled (e.g. the app quits): no orphans
                task.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)


def parse_answer(block: Block, text: str, finish_reason: str | None):
    """What a generation block's answer yields (a list of texts) or a judge's (a Judgement);
    `ParseError` says why an answer is unusable."""
    if finish_reason == "oversized":
        raise ParseError(f"the answer was over {len(text):,} characters and was not kept")
    stopped = finish_reason != "length"
    try:
        if block.kind == "judge":
            return parse_judgement(text, block.scores, stopped=stopped)
        return extract_all(text, block.output_tag, stopped=stopped)[: None if block.list else 1]
    except ParseError as error:
        if not stopped and "missing tag [End" in str(error):
            raise ParseError("truncated at max tokens") from error
        raise


def _derived(block: Block, data: dict) -> str:
    if block.kind == "static":
        return str(block.value)
    return block.separator.join(str(data[name]) for name in block.reads)


async def run_flow(db_path: Path | str, run_id: str, *, on_event: Callable[[Event], None] = lambda e: None,
                   cancel: asyncio.Event | None = None, profile: TeacherProfile | None = None,
                   concurrency: int | None = None, teacher: Teacher | None = None) -> RunResult:
    """Run (or resume) a run created by `start_run`, on the caller's event loop.

    `profile` and `concurrency` replace the stored ones (a resume may use another endpoint or a
    gentler rate); request ids depend on neither the endpoint nor the rate, so nothing answered
    is sent again (another *model* does answer afresh: the model is part of a request's id).
    Blocks with their own teacher keep the profile stored with the run. A batch passes one
    `teacher` to all its runs, so they share its bound on requests in flight."""
    from lab_tui.pipeline.report import build_report

    db = open_db(db_path)
    run = reads.run_row(db, run_id)
    if run is None:
        raise FlowError(f"There is no run {run_id} in this database.")
    if run["status"] == "running" and run["pid"] != os.getpid() and pid_alive(run["pid"]):
        raise FlowError(f"Run {run_id} is still running in process {run['pid']}; two processes on one run would "
                        "send its requests twice. Stop that one first.")
    params = RunParams.stored(json.loads(run["params"]))
    stored = json.loads(run["flow"])
    if any("type" in block for block in stored.get("blocks", [])):
        raise FlowError(f"Run {run_id} was made by an earlier lab-tui, before flows were data: it can still be "
                        "reviewed, reported and exported, but not resumed. Start a new run instead.")
    flow = stored_flow(stored, params.flow_overrides())
    snapshot = json.loads(run["skill_snapshot"])
    seeds = snapshot["examples"]
    if params.preview_seed is not None:
        seeds = [seeds[params.preview_seed]]
    profile = profile or TeacherProfile(**json.loads(run["teacher"]))
    teachers = {None: teacher or Teacher(profile, concurrency or params.concurrency)}
    for name, stored_profile in params.teachers.items():
        block_profile = TeacherProfile(**stored_profile)
        teachers[name] = Teacher(block_profile, block_profile.max_concurrency)

    def prepare() -> None:  # litellm's import and the Routers: off the loop, before the clock
        for each in teachers.values():
            each.prepare()

    await asyncio.to_thread(prepare)
    engine = Engine(db, run_id, flow, seeds, snapshot["task_description"], teachers, on_event)
    resumed = run["status"] != "running" or reads.has_requests(db, run_id)
    store.mark_run(db, run_id, "running")
    on_event(RunStarted(run_id, tuple(b.name for b in flow.blocks), resumed))
    status, error = "completed", None
    try:
        if not await engine.run(cancel or asyncio.Event()):
            status = "cancelled"
    except asyncio.CancelledError:
        status = "cancelled"
        raise
    except RunAborted as caught:
        status, error = "failed", str(caught)
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
        final = engine.progress()
        engine.save_progress(final)
        on_event(final)
        on_event(RunFinished(run_id, status, error))
    first = flow.blocks[0]
    return RunResult(run_id, status, engine.progress().stages, dict(engine.failures),
                     reads.distinct_outputs(db, run_id, first.name, first.writes), first.label or first.name,
                     time.monotonic() - engine.started, error, engine.progress().endpoints)
