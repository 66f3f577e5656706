"""A flow is a folder of YAML: `flow.yaml` declares the blocks, one prompt file per LLM block.

The engine, the report, preview, the Run and Review panes and export all read a `Flow`, so a new
flow needs no code. Everything a run needs is checked here before any request is sent: every
variable a prompt uses must be a seed field or written by an earlier block, every field a block
says it reads must appear in its prompt (a grounded response prompt without `{context}` would let
the teacher answer ungrounded), filters name a judge, blocks name known teacher profiles.
A run stores its flow (`Flow.stored()`, prompts included) and resumes from that copy, so editing
prompt files never changes a run that already started.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab_tui.resources import data_folder

PROMPT_PARTS = ("introduction", "principles", "examples", "generation")
VARIABLE = re.compile(r"\{(\w+)\}")
SEED_FIELDS = {"task_description": None, "seed_context": "context", "seed_question": "question",
               "seed_response": "answer"}
"""Variables every row can use, and the seed example field each comes from."""
BUILTINS = {"sample_index", "num_samples"}
"""Set by the engine: which sample of a block this is (1-based), and how many a list block asks for."""
KINDS = ("generate", "judge", "filter", "static", "combine")
OVERRIDABLE = {"temperature": float, "max_tokens": int, "threshold": float, "count": int}
"""Block settings a run may override as `BLOCK.KEY` (e.g. `--set filter_grounded_qa_pair.threshold=3`)."""
FILTER_OPS = {"ge": lambda score, threshold: score >= threshold, "eq": lambda score, threshold: score == threshold}
FILTER_WORDS = {"ge": "<", "eq": "≠"}
DEFAULT_FLOWS = {True: "grounded_skills", False: "freeform_skills"}
"""As `ilab data generate` chooses: seed examples with a context run grounded, without freeform."""
PREVIEW_COUNT = 2
"""A preview asks every generation block for at most this many outputs."""


class FlowError(ValueError):
    """The flow or one of its prompts cannot be used; the message names the file, block and why."""


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


@dataclass(frozen=True)
class Block:
    name: str
    kind: str
    """generate | judge | filter | static | combine"""
    prompt: Prompt | None = None
    reads: tuple[str, ...] = ()
    writes: str | None = None
    label: str = ""
    """What the block is in a user's words ("question judge", "contexts"): report and panes show it."""
    count: int = 1
    count_param: str | None = None
    """The run parameter (`--contexts`, `--questions`) that overrides `count`."""
    list: bool = False
    """One request asks for `count` outputs and every tagged one becomes a row (else `count` requests)."""
    tag: str | None = None
    """The `[Start of TAG]` a generation answer is read from (default: the written field, capitalised)."""
    dedupe: bool = False
    """Drop exact duplicates of the written field within this block (InstructLab's drop_duplicates)."""
    imitates: str | None = None
    """The seed variable the output should look like; the report compares lengths and formats with it."""
    temperature: float = 0.0
    max_tokens: int = 4096
    scores: tuple[float, ...] = ()
    judge: str | None = None
    threshold: float | None = None
    op: str = "ge"
    value: str | None = None
    separator: str = "\n\n"
    teacher: str | None = None
    """A teacher profile for this block's requests (e.g. a stronger judge); None: the run's."""

    @property
    def asks(self) -> bool:
        return self.kind in ("generate", "judge")

    @property
    def output_tag(self) -> str:
        return self.tag or (self.writes or "").replace("_", " ").title()

    def keeps(self, score: float) -> bool:
        return FILTER_OPS[self.op](score, self.threshold)

    def drop_reason(self, score: float) -> str:
        return f"{self.judge} score {score:g} {FILTER_WORDS[self.op]} {self.threshold:g}"


@dataclass(frozen=True)
class PairSpec:
    """Which row fields make a training pair, and which judges' verdicts go with it."""
    user: str
    response: str
    question: str
    context: str | None = None
    judges: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flow:
    name: str
    blocks: tuple[Block, ...]
    pair: PairSpec
    version: str
    """Hash of the flow file and every prompt file: stored with each run."""
    source: dict = field(hash=False, compare=False)
    description: str = ""

    def block(self, name: str) -> Block:
        return next(b for b in self.blocks if b.name == name)

    def judge_label(self, name: str) -> str:
        return self.block(name).label or name

    def seed_variables(self) -> set[str]:
        return {v for b in self.blocks if b.prompt for v in b.prompt.variables if SEED_FIELDS.get(v)}

    def stored(self) -> dict:
        """The flow file plus every prompt's text, as kept with a run: what exactly was asked."""
        return {**self.source, "prompts": {b.name: b.prompt.stored() for b in self.blocks if b.prompt}}


def _prompt(data: object, where: str) -> Prompt:
    if not isinstance(data, dict) or "generation" not in data:
        raise FlowError(f"{where}: a prompt needs at least `system` and `generation`")
    parts = tuple(str(data.get(part) or "") for part in PROMPT_PARTS)
    variables = frozenset(v for text in parts + (str(data.get("system", "")),) for v in VARIABLE.findall(text))
    return Prompt(str(data.get("system") or ""), parts, variables)


def _read_yaml(path: Path, what: str) -> tuple[object, bytes]:
    try:
        raw = path.read_bytes()
        return yaml.safe_load(raw.decode("utf-8")), raw
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise FlowError(f"{path}: cannot read the {what} ({' '.join(str(error).split())})") from error


def _block(raw: dict, prompt: Prompt | None, where: str, overrides: dict) -> Block:
    raw = dict(raw)
    raw.pop("prompt", None)
    kind = raw.pop("kind", None)
    if kind not in KINDS:
        raise FlowError(f"{where}: block {raw.get('name')!r} has kind {kind!r}; a block is one of {', '.join(KINDS)}")
    name = raw.get("name")
    if raw.get("count_param") and overrides.get(raw["count_param"]) is not None:
        raw["count"] = overrides[raw["count_param"]]
    for key, cast in OVERRIDABLE.items():
        override = overrides.get(f"{name}.{key}")
        if override is not None:
            try:
                raw[key] = cast(override)
            except ValueError as error:
                raise FlowError(f"{name}.{key}: {override!r} is not a {cast.__name__}") from error
    if overrides.get("preview") and kind == "generate":
        raw["count"] = min(int(raw.get("count", 1)), PREVIEW_COUNT)
    raw["reads"] = tuple(raw.get("reads") or ())
    raw["scores"] = tuple(float(s) for s in raw.get("scores") or ())
    try:
        block = Block(kind=kind, prompt=prompt, **raw)
    except TypeError as error:
        raise FlowError(f"{where}: block {name!r}: {str(error).replace('Block.__init__() ', '')}") from error
    if not isinstance(block.count, int) or block.count < 1:
        raise FlowError(f"{where}: block {name!r}: count must be a whole number of at least 1, not {block.count!r}")
    if block.op not in FILTER_OPS:
        raise FlowError(f"{where}: block {name!r}: op is one of {', '.join(FILTER_OPS)}, not {block.op!r}")
    return block


def _legacy(raw: dict) -> dict:
    """A block as stored by a run made before flows were data, in today's words."""
    raw = dict(raw)
    kind = raw.pop("type", None)
    if kind == "llm":
        raw.update(kind="generate", writes=raw.pop("output", None))
    elif kind == "combine":
        raw.update(kind="combine", reads=["context", "question"], writes="user_turn")
    else:
        raw["kind"] = kind
    if raw.get("kind") == "judge":
        raw.setdefault("label", raw["name"].replace("_", " "))
    return raw


def _pair(raw: object, blocks: tuple[Block, ...], where: str) -> PairSpec:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: the flow needs a `pair:` section naming its user, response and question fields")
    judges = tuple(raw.get("judges") or ())
    try:
        spec = PairSpec(user=raw["user"], response=raw["response"], question=raw["question"],
                        context=raw.get("context"), judges=judges)
    except KeyError as error:
        raise FlowError(f"{where}: `pair:` needs {error.args[0]!r}") from error
    written = {b.writes for b in blocks if b.writes}
    for role in ("user", "response", "question", "context"):
        value = getattr(spec, role)
        if value is not None and value not in written:
            raise FlowError(f"{where}: pair {role} {value!r} is written by no block")
    for judge in judges:
        if judge not in {b.name for b in blocks if b.kind == "judge"}:
            raise FlowError(f"{where}: pair judge {judge!r} is not a judge block of this flow")
    return spec


def _check_wiring(blocks: tuple[Block, ...], pair: PairSpec, where: str, prompt_files: dict[str, str],
                  profiles: set[str] | None) -> None:
    available = set(SEED_FIELDS) | BUILTINS
    names: set[str] = set()
    for block in blocks:
        origin = prompt_files.get(block.name, where)
        if block.name in names:
            raise FlowError(f"{where}: two blocks are named {block.name!r}")
        if block.asks and block.prompt is None:
            raise FlowError(f"{where}: block {block.name!r} ({block.kind}) needs a prompt file")
        if block.kind in ("generate", "static", "combine") and not block.writes:
            raise FlowError(f"{where}: block {block.name!r} ({block.kind}) must say which field it `writes`")
        if block.kind == "filter":
            judge = next((b for b in blocks if b.name == block.judge and b.kind == "judge"), None)
            if judge is None or block.judge not in names:
                raise FlowError(f"{where}: filter {block.name!r} must name an earlier judge block, not {block.judge!r}")
            if block.threshold is None:
                raise FlowError(f"{where}: filter {block.name!r} needs a threshold")
        if block.kind == "judge" and not block.scores:
            raise FlowError(f"{where}: judge {block.name!r} must list its allowed `scores`")
        if block.kind == "static" and block.value is None:
            raise FlowError(f"{where}: static block {block.name!r} needs a `value`")
        if block.teacher is not None and profiles is not None and block.teacher not in profiles:
            raise FlowError(f"{where}: block {block.name!r} names teacher profile {block.teacher!r}, which the "
                            f"settings file does not define (known: {', '.join(sorted(profiles)) or 'none'})")
        used = set(block.prompt.variables) if block.prompt else set()
        for variable in sorted(used | set(block.reads)):
            if variable not in available:
                raise FlowError(f"{origin}: block {block.name!r} uses {{{variable}}}, which is neither a seed field "
                                f"nor written by an earlier block (available: {', '.join(sorted(available))})")
        if block.prompt:
            forgotten = sorted(set(block.reads) - used)
            if forgotten:
                raise FlowError(f"{origin}: block {block.name!r} reads {', '.join(forgotten)} but its prompt never "
                                f"uses {', '.join('{' + v + '}' for v in forgotten)}; without it the teacher would "
                                "answer (or judge) without what the block is about")
        if pair.context and pair.context in available and block.prompt and (
                block.kind == "judge" or block.writes == pair.response) and pair.context not in used:
            raise FlowError(f"{origin}: in a grounded flow the {block.name!r} prompt must use {{{pair.context}}}; "
                            "without it the teacher would answer (or judge) without the context")
        names.add(block.name)
        if block.writes:
            available.add(block.writes)
        if block.kind == "judge":
            available |= {f"{block.name}.score", f"{block.name}.explanation"}


def parse_flow(data: object, *, where: str, prompts: dict[str, object], overrides: dict | None = None,
               profiles: set[str] | None = None, prompt_files: dict[str, str] | None = None,
               version: str = "") -> Flow:
    """A Flow from the flow file's data and each LLM block's prompt data (by block name)."""
    if not isinstance(data, dict) or not isinstance(data.get("blocks"), list) or not data["blocks"]:
        raise FlowError(f"{where}: a flow is a mapping with a non-empty `blocks:` list")
    overrides = dict(overrides or {})
    legacy = any(isinstance(b, dict) and "type" in b for b in data["blocks"])
    raws = [_legacy(b) if legacy else b for b in data["blocks"]]
    blocks = []
    for raw in raws:
        if not isinstance(raw, dict) or "name" not in raw:
            raise FlowError(f"{where}: every block is a mapping with a `name`")
        prompt = _prompt(prompts[raw["name"]], prompt_files.get(raw["name"], where) if prompt_files else where) \
            if raw["name"] in prompts else None
        blocks.append(_block(raw, prompt, where, overrides))
    blocks = tuple(blocks)
    names = {b.name for b in blocks}
    unknown = sorted(k for k in overrides if "." in k and (k.split(".", 1)[0] not in names
                                                           or k.split(".", 1)[1] not in OVERRIDABLE))
    if unknown:
        raise FlowError(f"cannot override {', '.join(unknown)}: give BLOCK.KEY with a block of this flow and KEY "
                        f"one of {', '.join(OVERRIDABLE)}")
    params = {b.count_param for b in blocks if b.count_param}
    missing = sorted(k for k in overrides if "." not in k and k != "preview" and overrides[k] is not None
                     and k not in params)
    if missing:
        raise FlowError(f"the {data.get('name', 'flow')} flow has no {', '.join(missing)} count "
                        f"(its counts: {', '.join(sorted(params)) or 'none'})")
    pair = _pair(data.get("pair") if not legacy else
                 {"user": "user_turn", "response": "response", "question": "question", "context": "context",
                  "judges": [b.name for b in blocks if b.kind == "judge"]}, blocks, where)
    _check_wiring(blocks, pair, where, prompt_files or {}, profiles)
    return Flow(str(data.get("name", "flow")), blocks, pair, version, data, str(data.get("description") or ""))


def bundled_flows() -> list[str]:
    root = data_folder("prompts")
    return sorted(p.parent.name for p in root.glob("*/flow.yaml"))


def flow_folder(name_or_dir: str | Path) -> Path:
    """A flow folder given by path, or a bundled flow by name."""
    path = Path(name_or_dir).expanduser()
    if (path / "flow.yaml").is_file():
        return path
    bundled = data_folder("prompts") / str(name_or_dir)
    if "/" not in str(name_or_dir) and (bundled / "flow.yaml").is_file():
        return bundled
    raise FlowError(f"no flow {str(name_or_dir)!r}: give a folder holding a flow.yaml, or one of the bundled flows "
                    f"({', '.join(bundled_flows())})")


def load_flow(name_or_dir: str | Path = DEFAULT_FLOWS[True], overrides: dict | None = None,
              profiles: set[str] | None = None) -> Flow:
    """Read a flow folder's `flow.yaml` and its prompts, and check its wiring."""
    folder = flow_folder(name_or_dir)
    flow_path = folder / "flow.yaml"
    data, raw = _read_yaml(flow_path, "flow")
    digest = hashlib.sha256(raw)
    prompts, files = {}, {}
    for block in data.get("blocks") or [] if isinstance(data, dict) else []:
        if isinstance(block, dict) and block.get("prompt"):
            prompt_path = folder / str(block["prompt"])
            prompts[block["name"]], prompt_raw = _read_yaml(prompt_path, "prompt")
            files[block["name"]] = str(prompt_path)
            digest.update(prompt_raw)
    return parse_flow(data, where=str(flow_path), prompts=prompts, overrides=overrides, profiles=profiles,
                      prompt_files=files, version=digest.hexdigest()[:16])


def stored_flow(stored: dict, overrides: dict | None = None) -> Flow:
    """The flow a run stored, prompts included (also the grounded flow of runs made before flows were data)."""
    data = {k: v for k, v in stored.items() if k != "prompts"}
    return parse_flow(data, where="the run's stored flow", prompts=stored.get("prompts") or {}, overrides=overrides)


def default_flow_for(examples: list) -> str:
    """The bundled flow a skill runs with, or FlowError for a skill mixing examples with and without context."""
    with_context = [i + 1 for i, e in enumerate(examples) if e.context]
    without = [i + 1 for i, e in enumerate(examples) if not e.context]
    if with_context and without:
        raise FlowError(f"this skill mixes seed examples with a context ({_numbers(with_context)}) and without "
                        f"({_numbers(without)}); give every example a context, or none (InstructLab would run "
                        "the whole skill with the flow of its first example)")
    return DEFAULT_FLOWS[bool(with_context)]


def _numbers(items: list[int]) -> str:
    return ("example " if len(items) == 1 else "examples ") + ", ".join(map(str, items))
