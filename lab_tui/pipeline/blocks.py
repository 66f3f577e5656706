"""What a flow is made of: blocks, one class per kind, registered by name in `KINDS`.

A kind is the one place that knows its blocks: the settings a flow file may give them (the class's
dataclass fields, type-checked when a flow loads), its own wiring rules, what it does to a row when
a run reaches it (`run`), how many requests it will send (`expect`) and what the report shows
about it (`scored`, `drops_for`, `imitates`). The loader, the engine, the report and preview ask
the block; none of them compares kind names, so adding a kind is one class here and one line in
`KINDS` (NVIDIA Data Designer registers its column generators the same way).

A kind's `run` gets the engine (`Engine` in `engine.py`) and uses only these of its methods:
`answer` (ask the teacher and parse), `child` (the row a block makes from a row), `save_row`,
`track` and `advance` (carry rows on in tasks of their own), `record_pair`, `first_with` (dedupe) and
`values` (what a prompt of the row may use).
"""

from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import MISSING, dataclass, fields, replace
from functools import cache
from typing import ClassVar

from lab_tui.errors import EXIT_USAGE, UserError
from lab_tui.pipeline import ontask
from lab_tui.pipeline.parsers import ParseError, extract_all, parse_judgement

PROMPT_PARTS = ("introduction", "principles", "examples", "generation")
VARIABLE = re.compile(r"\{(\w+)\}")
SEED_FIELDS = {"task_description": None, "seed_context": "context", "seed_question": "question",
               "seed_response": "answer"}
"""Variables every row can use, and the seed example field each comes from."""
BUILTINS = {"sample_index", "num_samples"}
"""Set by the engine: which sample of a block this is (1-based), and how many a list block asks for."""
COUNT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
"""A count's name is typed as `--count NAME=N` and names a field of the Run pane: a plain word."""
PREVIEW_COUNT = 2
"""A preview asks every generation block for at most this many outputs."""
FILTER_OPS = {"ge": lambda score, threshold: score >= threshold, "eq": lambda score, threshold: score == threshold}
FILTER_WORDS = {"ge": "<", "eq": "≠"}


@dataclass(frozen=True)
class KeepRule:
    """How a block keeps rows by a score: the agreement figures try it (and stricter ones) on verdicts."""

    judge: str | None
    """The scored block whose score it reads; None: the on-task score."""
    op: str
    threshold: float


class FlowError(UserError, ValueError):
    """The flow or one of its prompts cannot be used; the message names the file, block and why."""

    title = "Flow not usable"
    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Prompt:
    system: str
    parts: tuple[str, ...]
    variables: frozenset[str]

    def render(self, values: dict[str, object]) -> list[dict]:
        """Chat messages with `{name}` replaced; other braces (in seeds or JSON) are left alone."""
        def fill(text: str) -> str:
            return VARIABLE.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)
        user = "\n".join(fill(part).rstrip("\n") + "\n" for part in self.parts if part)
        return [{"role": "system", "content": fill(self.system)}, {"role": "user", "content": user.rstrip("\n")}]

    def stored(self) -> dict:
        return {"system": self.system, **dict(zip(PROMPT_PARTS, self.parts))}


def parse_prompt(data: object, where: str) -> Prompt:
    if not isinstance(data, dict) or "generation" not in data:
        raise FlowError(f"{where}: a prompt needs at least `system` and `generation`")
    texts = {part: data.get(part) for part in ("system", *PROMPT_PARTS)}
    wrong = [part for part, text in texts.items() if text is not None and not isinstance(text, str)]
    if wrong:
        raise FlowError(f"{where}: the prompt's {', '.join(wrong)} must be text")
    parts = tuple(texts[part] or "" for part in PROMPT_PARTS)
    system = texts["system"] or ""
    return Prompt(system, parts, frozenset(v for text in (*parts, system) for v in VARIABLE.findall(text)))


# ----- settings: a kind's dataclass fields, as a flow file gives them --------------------------

_WORDS = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}


class _Mismatch(ValueError):
    """A value that is not of its setting's type."""


def _optional(hint: object) -> object | None:
    """T for a hint `T | None`, else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return None


def _typed(value: object, hint: object) -> object:
    """The value as a setting of type `hint` (a number for a float, a tuple for a list), else `_Mismatch`."""
    if _optional(hint) is not None:
        if value is None:
            return None
        hint = _optional(hint)
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch()
        return tuple(_typed(item, typing.get_args(hint)[0]) for item in value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if hint in (str, bool) and isinstance(value, hint) or hint is int and type(value) is int:
        return value
    raise _Mismatch()


def _describe(hint: object) -> str:
    hint = _optional(hint) or hint
    if typing.get_origin(hint) is tuple:
        item = _WORDS[typing.get_args(hint)[0]]
        return "a list of " + ("numbers" if item == "a number" else "texts" if item == "text" else item)
    return _WORDS[hint]


@dataclass(frozen=True, kw_only=True)
class Block:
    """What every block has, whatever its kind: a name and a label; each kind is a frozen dataclass of it.

    The class attributes are what a kind may turn into a setting of its own (a field: `writes`,
    `reads`, `count`, ...); blocks of other kinds answer with these defaults."""

    kind: ClassVar[str]
    asks: ClassVar[bool] = False
    """It sends requests to the teacher (and needs a prompt file)."""
    scored: ClassVar[bool] = False
    """It writes `NAME.score` and `NAME.explanation`: a filter may read it, a pair may list it among its
    judges, and the report shows its score distribution."""
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[str | None] = None
    count: ClassVar[int] = 1
    count_param: ClassVar[str | None] = None
    prompt: ClassVar[Prompt | None] = None
    teacher: ClassVar[str | None] = None
    imitates: ClassVar[str | None] = None
    dedupe: ClassVar[bool] = False

    name: str
    label: str = ""
    """What the block is in a user's words ("question judge", "contexts"): the report and panes show it."""

    @classmethod
    @cache
    def settings(cls) -> dict[str, tuple[object, bool]]:
        """Setting name -> (its type, whether a flow must give it), for what a flow file may say."""
        hints = typing.get_type_hints(cls)
        return {f.name: (hints[f.name], f.default is MISSING and f.default_factory is MISSING)
                for f in fields(cls) if f.name not in ("name", "prompt")}

    def problem(self) -> str | None:
        """What is wrong with this block's own settings, in words, or None."""
        return None

    def wiring_problem(self, earlier: dict[str, "Block"]) -> str | None:
        """What is wrong with this block given the blocks before it (by name), or None."""
        return None

    def previewed(self) -> "Block":
        """This block as a preview runs it (fewer outputs)."""
        return self

    def fields_written(self) -> set[str]:
        """The row fields this block adds, which later blocks' prompts may use."""
        made = {self.writes} if self.writes else set()
        return (made | {f"{self.name}.score", f"{self.name}.explanation"}) if self.scored else made

    def samples(self) -> int:
        """Requests (or chains, for the first block) per input row."""
        return 1

    def expect(self, rows: float, stage: dict) -> tuple[float, float]:
        """(requests this block will send, rows it will pass on) for `rows` coming in, with its
        stage's counts so far (`done`, `kept`, `filtered`, `failed`) for what it drops."""
        return 0.0, rows

    def drops_for(self, label_of) -> str | None:
        """For a block that drops rows: what drops them, in words ("question judge"); `label_of(name)`
        gives another block's label."""
        return None

    def keep_rule(self) -> KeepRule | None:
        """For a block that keeps rows by a score: which score, and the rule."""
        return None

    def ontask_of(self) -> str | None:
        """The field whose on-task score this block reads: the flow checks that the pair has it (the
        engine scores the pair's generated texts)."""
        return None

    def complete_pair(self, data: dict) -> None:
        """Fill in what this block would add without a request, for a pair dropped before it."""

    async def run(self, engine, index: int, row, sample: int | None):
        """The row to carry on to the next block, or None (dropped, failed, or carried on in tasks
        of its own). `sample` is set when the first block's chain is for one of its samples."""
        raise NotImplementedError


class Untagged(str):
    """A whole answer taken as the value because it had no tag (and stopped normally)."""


def untagged_key(field: str) -> str:
    """Where a row's data marks that its `field` is a whole untagged answer ("response.untagged"): a
    dotted name, so no prompt variable can be it."""
    return f"{field}.untagged"


@dataclass(frozen=True, kw_only=True)
class Asking(Block):
    """A block that asks the teacher: a prompt, a profile of its own if it wants, sampling settings."""

    asks: ClassVar[bool] = True
    reads: tuple[str, ...] = ()
    prompt: Prompt | None = None
    teacher: str | None = None
    """A teacher profile for this block's requests (e.g. a stronger judge); None: the run's."""
    temperature: float = 0.0
    max_tokens: int = 4096

    @property
    def constrain(self) -> tuple[float, ...] | None:
        """Scores a server may be told to restrict the answer to (judges), else None."""
        return None

    def problem(self) -> str | None:
        if self.prompt is None:
            return "needs a prompt file"
        if self.temperature < 0:
            return f"needs a temperature of at least 0, not {self.temperature:g}"
        if self.max_tokens < 1:
            return f"needs max_tokens of at least 1, not {self.max_tokens}"
        return None

    def parse(self, text: str, stopped: bool):
        """What an answer yields; `ParseError` says why it is unusable."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Generate(Asking):
    """Asks for text and writes one field: `count` samples per input row, one request each, or with
    `list: true` one request asking for `count`, and a row per tagged answer."""

    kind: ClassVar[str] = "generate"
    writes: str
    count: int = 1
    count_param: str | None = None
    """The run's count (`--count NAME=N`, the Run pane's field) that overrides `count`."""
    list: bool = False
    tag: str | None = None
    """The `[Start of TAG]` an answer is read from (default: the written field, capitalised)."""
    dedupe: bool = False
    """Drop exact duplicates of the written field within this block (InstructLab's drop_duplicates)."""
    imitates: str | None = None
    """The seed variable the output should look like; the report compares lengths and formats with it."""
    untagged: bool = False
    """An answer with no `[Start of TAG]` that stopped normally is taken whole (marked in its row):
    small teachers often answer without the tags, and the judges and the reviewer decide. An answer
    cut off at max tokens still fails."""

    @property
    def output_tag(self) -> str:
        return self.tag or self.writes.replace("_", " ").title()

    def problem(self) -> str | None:
        if self.count < 1:
            return f"needs a count of at least 1, not {self.count}"
        if self.count_param is not None and not COUNT_NAME.match(self.count_param):
            return f"has count_param {_shown(self.count_param)}; a count's name is a plain word (letters, digits, _)"
        if self.imitates is not None and not SEED_FIELDS.get(self.imitates):
            seeds = ", ".join(name for name, field in SEED_FIELDS.items() if field)
            return f"imitates {_shown(self.imitates)}, which is not a seed variable ({seeds})"
        if self.untagged and self.list:
            return "cannot take an untagged answer whole (untagged: true) and read a list from it (list: true)"
        return super().problem()

    def previewed(self) -> "Generate":
        return replace(self, count=min(self.count, PREVIEW_COUNT))

    def samples(self) -> int:
        return 1 if self.list else self.count

    def expect(self, rows: float, stage: dict) -> tuple[float, float]:
        done = stage["done"]  # rows made so far, and the share of them that went on
        out = rows * self.count * (1 - (stage["failed"] + stage["filtered"]) / done if done else 1.0)
        return (rows if self.list else rows * self.count), out

    def parse(self, text: str, stopped: bool) -> list[str]:
        try:
            return extract_all(text, self.output_tag, stopped=stopped)[: None if self.list else 1]
        except ParseError as error:
            if not self.untagged or str(error) != f"missing tag [Start of {self.output_tag}]" or not text.strip():
                raise
            if not stopped:
                raise ParseError(f"missing tag [Start of {self.output_tag}] and cut off at max tokens: an untagged "
                                 "answer is taken whole only when it stopped by itself") from None
            return [Untagged(text.strip())]

    async def run(self, engine, index: int, row, sample: int | None):
        if sample is None:
            if self.count > 1 and not self.list:
                for each in range(self.count):
                    engine.track(engine.advance(index, row, each), row.chain)
                return None
            sample = 0
        failed = engine.child(self, row, row.path + (sample,))
        values, request_id = await engine.answer(index, self, row, failed, sample)
        first = None
        for number, value in enumerate(values or ()):
            marks = {untagged_key(self.writes): True} if isinstance(value, Untagged) else {}
            made = engine.child(self, row, row.path + ((sample, number) if self.list else (sample,)),
                                **{self.writes: str(value)}, **marks)
            if self.dedupe:
                if engine.first_with(self, value, made.id) != made.id:
                    engine.save_row(self, made, row.id, "filtered", request_id=request_id,
                                    reason=f"exact duplicate of an earlier {self.writes}")
                    continue
            engine.save_row(self, made, row.id, "ok", request_id=request_id)
            if first is None:
                first = made
            else:
                engine.track(engine.advance(index + 1, made), row.chain)
        return first


@dataclass(frozen=True, kw_only=True)
class Judge(Asking):
    """Asks for a score from `scores` and an explanation."""

    kind: ClassVar[str] = "judge"
    scored: ClassVar[bool] = True
    scores: tuple[float, ...]

    @property
    def constrain(self) -> tuple[float, ...]:
        return self.scores

    def problem(self) -> str | None:
        if not self.scores:
            return "must list its allowed `scores`"
        return super().problem()

    def expect(self, rows: float, stage: dict) -> tuple[float, float]:
        done = stage["done"]
        return rows, rows * (1 - (stage["failed"] + stage["filtered"]) / done if done else 1.0)

    def parse(self, text: str, stopped: bool):
        return parse_judgement(text, self.scores, stopped=stopped)

    async def run(self, engine, index: int, row, sample: int | None):
        made = engine.child(self, row, row.path)
        judgement, request_id = await engine.answer(index, self, row, made, 0)
        if judgement is None:
            return None
        made.data[f"{self.name}.score"] = judgement.score
        made.data[f"{self.name}.explanation"] = judgement.explanation
        engine.save_row(self, made, row.id, "ok", request_id=request_id, score=judgement.score,
                        explanation=judgement.explanation)
        return made


@dataclass(frozen=True, kw_only=True)
class Filter(Block):
    """Keeps a row when the score of an earlier scored block passes (`op`: ge | eq, `threshold`)."""

    kind: ClassVar[str] = "filter"
    judge: str
    threshold: float
    op: str = "ge"

    def keeps(self, score: float) -> bool:
        return FILTER_OPS[self.op](score, self.threshold)

    def drop_reason(self, score: float) -> str:
        return f"{self.judge} score {score:g} {FILTER_WORDS[self.op]} {self.threshold:g}"

    def problem(self) -> str | None:
        if self.op not in FILTER_OPS:
            return f"has op {_shown(self.op)}; op is one of {', '.join(FILTER_OPS)}"
        return None

    def wiring_problem(self, earlier: dict[str, Block]) -> str | None:
        judge = earlier.get(self.judge)
        if judge is None or not judge.scored:
            return f"must name an earlier judge block, not {_shown(self.judge)}"
        return None

    def expect(self, rows: float, stage: dict) -> tuple[float, float]:
        seen = stage["kept"] + stage["filtered"]
        return 0.0, rows * stage["kept"] / seen if seen else rows

    def drops_for(self, label_of) -> str:
        return label_of(self.judge)

    def keep_rule(self) -> KeepRule:
        return KeepRule(self.judge, self.op, self.threshold)

    async def run(self, engine, index: int, row, sample: int | None):
        made = engine.child(self, row, row.path)
        score = row.data[f"{self.judge}.score"]
        if self.keeps(score):
            engine.save_row(self, made, row.id, "kept", score=score)
            return made
        engine.save_row(self, made, row.id, "filtered", score=score, reason=self.drop_reason(score))
        if engine.flow.pair.response in row.data:
            engine.record_pair(index, made, "filtered")
        return None


@dataclass(frozen=True, kw_only=True)
class OnTaskFilter(Block):
    """Keeps a row when the on-task score of the text an earlier block generated into `field` is at
    least `threshold`: drift from the seeds is dropped before more requests are spent on it (e.g.
    right after context generation). A row with no score (the skill's seeds give nothing to compare
    that field with) is kept."""

    kind: ClassVar[str] = "ontask_filter"
    field: str
    threshold: float = ontask.THRESHOLD

    def wiring_problem(self, earlier: dict[str, Block]) -> str | None:
        if not any(block.asks and block.writes == self.field for block in earlier.values()):
            return f"must name a field an earlier block generates, not {_shown(self.field)}"
        return None

    def ontask_of(self) -> str:
        return self.field

    def expect(self, rows: float, stage: dict) -> tuple[float, float]:
        seen = stage["kept"] + stage["filtered"]
        return 0.0, rows * stage["kept"] / seen if seen else rows

    def drops_for(self, label_of) -> str:
        return self.label or "on-task score"

    def keep_rule(self) -> KeepRule:
        return KeepRule(None, "ge", self.threshold)

    async def run(self, engine, index: int, row, sample: int | None):
        made = engine.child(self, row, row.path)
        score = row.data.get(ontask.ontask_key(self.field))
        if score is None or score >= self.threshold:
            engine.save_row(self, made, row.id, "kept", score=score)
            return made
        engine.save_row(self, made, row.id, "filtered", score=score,
                        reason=f"on-task score of the {self.field} {score:g} < {self.threshold:g}")
        if engine.flow.pair.response in row.data:
            engine.record_pair(index, made, "filtered")
        return None


class Derived(Block):
    """A block that writes a field without a request: one row in, one row out. It reads what a prompt
    may use (the row's fields, and the seed example's: `{seed_question}` as every pair's question)."""

    def derive(self, data: dict) -> str:
        raise NotImplementedError

    def complete_pair(self, data: dict) -> None:
        if all(name in data for name in self.reads):
            data[self.writes] = self.derive(data)

    async def run(self, engine, index: int, row, sample: int | None):
        made = engine.child(self, row, row.path, **{self.writes: self.derive(engine.values(row, self, 0))})
        engine.save_row(self, made, row.id, "ok")
        return made


@dataclass(frozen=True, kw_only=True)
class Static(Derived):
    """Writes a fixed `value` (e.g. one instruction as every pair's question)."""

    kind: ClassVar[str] = "static"
    writes: str
    value: str

    def derive(self, data: dict) -> str:
        return self.value


@dataclass(frozen=True, kw_only=True)
class Combine(Derived):
    """Joins the fields it `reads` with `separator`."""

    kind: ClassVar[str] = "combine"
    reads: tuple[str, ...] = ()
    writes: str
    separator: str = "\n\n"

    def derive(self, data: dict) -> str:
        return self.separator.join(str(data[name]) for name in self.reads)


KINDS: dict[str, type[Block]] = {kind.kind: kind for kind in (Generate, Judge, Filter, OnTaskFilter, Static, Combine)}
"""Every block kind a flow may use, by the name a flow file gives in `kind:`."""


def kind_of(raw: dict) -> type[Block] | None:
    """The kind a block's flow-file mapping names, None for one KINDS does not know."""
    kind = raw.get("kind")
    return KINDS.get(kind) if isinstance(kind, str) else None

OVERRIDABLE = ("temperature", "max_tokens", "threshold", "count")
"""Block settings a run may override as `BLOCK.KEY` (e.g. `--set filter_grounded_qa_pair.threshold=3`)."""
_SHOWN = 60


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _from_text(text: object, hint: object, what: str) -> object:
    """A run's setting (text from `--set`, or a number) as the setting's type."""
    try:
        return _typed(text, hint) if not isinstance(text, str) else _typed(hint(text), hint)
    except (ValueError, TypeError):
        raise FlowError(f"{what}: {_shown(text)} is not a {hint.__name__}") from None


def build_block(raw: dict, *, where: str, prompt: Prompt | None, counts: dict, settings: dict,
                preview: bool, strict: bool) -> Block:
    """A block of its kind from its flow-file mapping (`raw["name"]` is a name already checked), with
    the run's counts (by count_param) and settings (KEY -> value, for this block) applied.

    `strict` refuses settings the kind does not have (a flow file); a run's stored flow, checked
    when the run started, drops them."""
    name, kind, cls = raw["name"], raw.get("kind"), kind_of(raw)
    if cls is None:
        raise FlowError(f"{where}: block {name!r} has kind {_shown(kind)}; a block is one of {', '.join(KINDS)}")
    allowed = cls.settings()
    values = {}
    for key, value in raw.items():
        if key in ("name", "kind") or key == "prompt" and cls.asks:
            continue
        if key not in allowed:
            if strict:
                raise FlowError(f"{where}: {kind} {name!r} has a setting {_shown(key)} that a {kind} block does not "
                                f"take (its settings: {', '.join(allowed)})")
            continue
        try:
            values[key] = _typed(value, allowed[key][0])
        except _Mismatch:
            raise FlowError(f"{where}: {kind} {name!r} has {key} {_shown(value)}; it must be "
                            f"{_describe(allowed[key][0])}") from None
    if "count" in allowed and values.get("count_param") in counts:
        values["count"] = _from_text(counts[values["count_param"]], int, values["count_param"])
    for key, value in settings.items():
        if key not in allowed:
            raise FlowError(f"cannot override {name}.{key}: a {kind} block has no {key}")
        values[key] = _from_text(value, _optional(allowed[key][0]) or allowed[key][0], f"{name}.{key}")
    missing = [key for key, (_, required) in allowed.items() if required and key not in values]
    if missing:
        raise FlowError(f"{where}: {kind} {name!r} needs {', '.join(f'`{key}`' for key in missing)}")
    block = cls(name=name, **values, **({"prompt": prompt} if cls.asks else {}))
    problem = block.problem()
    if problem:
        raise FlowError(f"{where}: {kind} {name!r} {problem}")
    return block.previewed() if preview else block
