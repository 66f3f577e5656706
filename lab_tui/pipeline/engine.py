"""The async engine: runs any flow; every row flows to the next block as soon as it exists.

What a block does to a row is its kind's (`blocks.KINDS`): the engine admits chains, asks the
teacher, stores requests and rows, and hands each row to the next block's `run`.

Chains are admitted as capacity frees (one chain is one request of the flow's first block and all
that follows from it), so memory follows the concurrency, not the run's size. When several
requests wait for a slot, the deepest block goes first, so a run's first pairs exist a few
teacher latencies after it starts whatever its size. Bookkeeping is O(1) per request: running
sums, a pending-task counter and a done callback that records any task's failure (a task never
dies unseen: its exception fails the run). Everything is written to SQLite as it happens, on the
caller's thread (one connection: one writer); ids are hashes of what a thing is, so a resumed run
finds stored answers and sends only what has none.

Use from any asyncio loop (the CLI's, or the Textual app's: never wrap it in `asyncio.run`):

    run_id = launch.start(db_path, skill_path, load_profile(), RunParams(counts={"contexts": 5}))
    result = await run_flow(db_path, run_id, on_event=handler, cancel=cancel_event)
    await close_clients()   # from lab_tui.pipeline.teacher, once, at shutdown

`handler` receives the dataclasses of `lab_tui.pipeline.events` synchronously on the loop (keep it
cheap: store the latest `RunProgress`, redraw on a timer). Setting `cancel` stops sending, lets
requests already sent land, and returns status "cancelled"; `run_flow(db_path, run_id)` again
resumes. `run_flow` raises a `UserError` when the run cannot start (`UnknownRunError`,
`NotResumable`: running in another process, or made by an earlier lab-tui) and re-raises anything
that stopped it (the run is then marked failed).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import sqlite_utils

from lab_tui.errors import UserError
from lab_tui.pipeline.blocks import SEED_FIELDS, Asking, Block
from lab_tui.pipeline.events import EndpointProgress, Event, RowDone, RowFailed, RunFinished, RunProgress, RunStarted, StageProgress
from lab_tui.pipeline.flow import Flow, FlowError, default_flow_for
from lab_tui.pipeline.ontask import OnTaskScorer, ontask_key
from lab_tui.pipeline.params import REQUEST_IDS, RunParams
from lab_tui.pipeline.parsers import ParseError
from lab_tui.pipeline.teacher import Answer, Stopped, Teacher, TeacherError, TeacherProfile, load_profile, profile_names
from lab_tui.seeds.model import SeedExample, Skill
from lab_tui.store import rows as reads
from lab_tui.store import runs as store
from lab_tui.store.db import open_db
from lab_tui.store.queries import UnknownRunError

STOP_GRACE_S = 15.0
"""On cancel, requests already sent get this long to be answered and stored before being dropped."""
PROGRESS_SAVE_EVERY_S = 1.0
"""How often the progress snapshot other processes read is written."""
CHAINS_PER_SLOT = 2
"""Chains admitted at once per request slot: enough waiting work to keep every slot busy."""


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


class RunAborted(UserError):
    """The teacher cannot answer this run at all (a refused key, nothing answering): stop at once."""

    title = "Run stopped"


class NotResumable(FlowError):
    """A run that cannot be run here now: another process runs it, or an earlier lab-tui made it."""

    title = "Run not resumed"
    exit_code = 1


_RUNNING_HERE: set[str] = set()
"""Runs this process is running now: a second `run_flow` of one of them (a second resume in the
app) is refused like one from another process."""


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
              batch_id: str | None = None, *, strict_counts: bool = True) -> str:
    """Check that the flow can run on this skill, create the run row and return its id.

    A count the flow does not have is refused, or with `strict_counts=False` left out (a batch's
    counts apply to the flows that have them; the Run pane's fields may be a flow behind)."""
    params.flow = params.flow or default_flow_for(skill.examples)
    flow = params.load_flow(profiles=profile_names())
    unknown = sorted(set(params.counts) - set(flow.counts()))
    if unknown and strict_counts:
        raise FlowError(f"the {flow.name} flow has no {', '.join(unknown)} count "
                        f"(its counts: {', '.join(flow.counts()) or 'none'})")
    _check_seeds(flow, skill, params)
    params.teachers = {b.teacher: load_profile(b.teacher).public() for b in flow.blocks if b.teacher}
    params.counts = flow.counts()  # the counts used, defaults included
    params.concurrency = params.concurrency or profile.max_concurrency  # a fleet's: its endpoints' sum
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
                 teachers: dict[str | None, Teacher], on_event: Callable[[Event], None],
                 request_ids: int = REQUEST_IDS, *, scorer: OnTaskScorer | None = None) -> None:
        self.db, self.run_id, self.flow, self.seeds, self.task = db, run_id, flow, seeds, task
        self.scorer = scorer
        spec = flow.pair
        self.roles = {name: role for name, role in ((spec.context, "context"), (spec.question, "question"),
                                                    (spec.response, "response"))
                      if name and scorer is not None and role in scorer.fields}
        """The pair's fields the on-task score compares with the seeds' (context, question, response)."""
        self.request_ids = request_ids
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
            asked, rows = block.expect(rows, self.stages[block.name].counts)
            total += asked
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
        for seed_index in range(len(self.seeds)):
            for sample in range(self.flow.blocks[0].samples()):
                await self.admission.acquire()
                if self.stop.is_set():
                    self.admission.release()
                    return
                chain = _Chain()
                root = _Row({}, None, seed_index, (seed_index,), chain)
                self.track(self.advance(0, root, sample), chain)
        for teacher in self.teachers.values():  # every chain is in: the longest way to go first now
            teacher.slots.reverse()

    # ----- requests -----------------------------------------------------------------------

    def request_id(self, block: Block, row: _Row, sample: int, messages: list, params: dict) -> str:
        """A request's identity: the row that asks (its block, its path from the seed example, the
        sample), the prompt, and the parameters with the model. Two rows whose prompts are the same
        (two seed examples sharing a context) ask separately and each keeps its own answer, before
        and after a resume. Another run asks afresh; so does another model. Runs stored before ids
        named the row (`request_ids` 1) keep their ids, so their resume finds their answers."""
        if self.request_ids == 1:
            return store.stable_id(self.run_id, messages, params, sample)
        return store.stable_id(self.run_id, block.name, row.path, sample, messages, params)

    async def ask(self, index: int, block: Asking, row: _Row, sample: int) -> tuple[Answer | None, str | None, str]:
        """(answer, failure reason, request id); a stored answer is reused without sending.

        Raises `Stopped` when the run is being cancelled and this request was not sent yet, and
        `RunAborted` when the teacher cannot answer this run at all."""
        teacher = self.teachers.get(block.teacher) or self.teachers[None]
        messages = block.prompt.render(self.values(row, block, sample))
        params = {"model": teacher.profile.model, "temperature": block.temperature, "max_tokens": block.max_tokens}
        request_id = self.request_id(block, row, sample, messages, params)
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
                                            constrain=block.constrain)
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

    async def answer(self, index: int, block: Asking, row: _Row, failed: _Row, sample: int):
        """Ask and parse (the block's `parse`): (value, request id), or (None, ...) once the failure
        is saved as the failed row `failed` (nothing is saved when the run is stopping)."""
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
        ontask = self.score_ontask(block, row) if status != "failed" else None
        data = dict(row.data)
        if raw is not None:
            data["raw"] = raw
        store.record_row(self.db, id=row.id, run_id=self.run_id, stage=block.name, parent_id=parent_id,
                         request_id=request_id, seed_index=row.seed_index, data=data, status=status, reason=reason,
                         score=score, explanation=explanation, ontask=ontask)
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

    def score_ontask(self, block: Block, row: _Row) -> float | None:
        """The on-task score of the text a generating block wrote into one of the pair's fields, kept in
        the row's data (`ontask_key`) so the pair and an on-task filter downstream read it."""
        role = self.roles.get(block.writes) if block.asks else None
        text = row.data.get(block.writes) if role else None
        if not isinstance(text, str):
            return None
        row.data[ontask_key(block.writes)] = score = self.scorer.score(role, text)
        return score

    def values(self, row: _Row, block: Block, sample: int) -> dict:
        seed = self.seeds[row.seed_index]
        fields = {name: (seed.get(field) or "") if field else self.task for name, field in SEED_FIELDS.items()}
        return {**fields, "sample_index": sample + 1, "num_samples": block.count, **row.data}

    def child(self, block: Block, row: _Row, path: tuple, **data) -> _Row:
        """The row `block` makes from `row`; the row that writes the pair's response gives the pair its id."""
        row_id = self.row_id(block, path)
        pair_id = row_id if block.writes == self.flow.pair.response else row.pair_id
        return _Row({**row.data, **data}, row_id, row.seed_index, path, row.chain, pair_id)

    def first_with(self, block: Block, text: str, row_id: str) -> str:
        """The id of the first row of `block` with this text (`row_id` when it is the first): a
        deduplicating block drops the others, also after a resume."""
        return self.seen[block.name].setdefault(reads.text_key(text), row_id)

    async def advance(self, index: int, row: _Row, sample: int | None = None) -> None:
        """Carry a row through the blocks from `index`, each block's `run` giving the row for the
        next. A block that makes several rows goes on with the first here and the others in tasks of
        their own (they share the row's chain). `sample`: the first block's sample of a new chain."""
        blocks = self.flow.blocks
        while index < len(blocks):
            if self.stop.is_set():
                return
            row = await blocks[index].run(self, index, row, sample)
            if row is None:
                return
            sample = None
            index += 1
        self.record_pair(index, row, "kept")

    def record_pair(self, index: int, row: _Row, outcome: str) -> None:
        """A pair's id is the id of the row that generated its response; a pair dropped by a filter
        still gets its user turn from the static and combine blocks after it."""
        spec, data = self.flow.pair, dict(row.data)
        for block in self.flow.blocks[index:]:
            block.complete_pair(data)
        judges = [{"judge": name, "label": self.flow.judge_label(name), "score": data.get(f"{name}.score"),
                   "explanation": data.get(f"{name}.explanation")} for name in spec.judges]
        scored = [judge["score"] for judge in judges if judge["score"] is not None]
        ontask = {role: data[ontask_key(name)] for name, role in self.roles.items() if ontask_key(name) in data}
        store.record_pair(
            self.db, id=row.pair_id, run_id=self.run_id, seed_index=row.seed_index,
            context=data.get(spec.context) if spec.context else None, question=data[spec.question],
            response=data[spec.response], user_turn=data.get(spec.user, data[spec.question]),
            score=scored[-1] if scored else None, scores=json.dumps(judges), outcome=outcome,
            ontask=min(ontask.values(), default=None), ontask_scores=json.dumps(ontask) if ontask else None,
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


def parse_answer(block: Asking, text: str, finish_reason: str | None):
    """What an answer yields to its block (`Asking.parse`: a list of texts, a Judgement...);
    `ParseError` says why an answer is unusable."""
    if finish_reason == "oversized":
        raise ParseError(f"the answer was over {len(text):,} characters and was not kept")
    stopped = finish_reason != "length"
    try:
        return block.parse(text, stopped)
    except ParseError as error:
        if not stopped and "missing tag [End" in str(error):
            raise ParseError("truncated at max tokens") from error
        raise


async def run_flow(db_path: Path | str, run_id: str, *, on_event: Callable[[Event], None] = lambda e: None,
                   cancel: asyncio.Event | None = None, profile: TeacherProfile | None = None,
                   concurrency: int | None = None, teacher: Teacher | None = None) -> RunResult:
    """Run (or resume) a run created by `start_run`, on the caller's event loop.

    `profile` and `concurrency` replace the stored ones (a resume may use another endpoint or a
    gentler rate); request ids depend on neither the endpoint nor the rate, so nothing answered
    is sent again (another *model* does answer afresh: the model is part of a request's id).
    Blocks with their own teacher keep the profile stored with the run. A batch passes one
    `teacher` to all its runs, so they share its bound on requests in flight."""
    db = open_db(db_path)
    run = reads.run_row(db, run_id)
    if run is None:
        raise UnknownRunError(run_id)
    if any("type" in block for block in json.loads(run["flow"]).get("blocks", [])):
        raise NotResumable(f"Run {run_id} was made by an earlier lab-tui, before flows were data: it can still be "
                           "reviewed, reported and exported, but not resumed. Start a new run instead.")
    claim = store.claim_run(db, run_id) if run_id not in _RUNNING_HERE else None
    if claim is None or not claim.taken:
        where = f"process {claim.pid}" if claim is not None else "this process"
        raise NotResumable(f"Run {run_id} is still running in {where}; two runs of it at once would send its "
                           "requests twice. Stop that one first.")
    _RUNNING_HERE.add(run_id)
    try:
        try:  # the set-up: a failure here gives the run back as it was
            params = RunParams.stored(json.loads(run["params"]))
            flow = params.stored_flow(json.loads(run["flow"]))
            snapshot = json.loads(run["skill_snapshot"])
            seeds = snapshot["examples"]
            if params.preview_seed is not None:
                seeds = [seeds[params.preview_seed]]
            profile = profile or TeacherProfile(**json.loads(run["teacher"]))
            teachers = {None: teacher or Teacher(profile, concurrency or params.concurrency or profile.max_concurrency)}
            for name, stored_profile in params.teachers.items():
                block_profile = TeacherProfile(**stored_profile)
                teachers[name] = Teacher(block_profile, block_profile.max_concurrency)

            def prepare() -> OnTaskScorer:  # litellm's import, the Routers, the embedding: off the loop
                for each in teachers.values():
                    each.prepare()
                return OnTaskScorer(snapshot["task_description"], [
                    SeedExample(e.get("question") or "", e.get("answer") or "", e.get("context"))
                    for e in snapshot["examples"]])

            scorer = await asyncio.to_thread(prepare)
        except BaseException:
            store.release_run(db, claim, run_id)
            raise
        return await _run_engine(db, run_id, flow, seeds, snapshot["task_description"], teachers, on_event, cancel,
                                 resumed=claim.status != "running" or reads.has_requests(db, run_id),
                                 request_ids=params.request_ids, scorer=scorer)
    finally:
        _RUNNING_HERE.discard(run_id)


async def _run_engine(db: sqlite_utils.Database, run_id: str, flow: Flow, seeds: list[dict], task: str,
                      teachers: dict[str | None, Teacher], on_event: Callable[[Event], None],
                      cancel: asyncio.Event | None, *, resumed: bool, request_ids: int,
                      scorer: OnTaskScorer) -> RunResult:
    """Run a claimed, set-up run to its end, and record how it ended."""
    from lab_tui.pipeline.report import build_report

    engine = Engine(db, run_id, flow, seeds, task, teachers, on_event, request_ids, scorer=scorer)
    store.mark_run(db, run_id, "running")  # an earlier end's error goes
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
