"""A flow is a folder of YAML: `flow.yaml` declares the blocks, one prompt file per LLM block.

The engine, the report, preview, the Run and Review panes and export all read a `Flow`, so a new
flow needs no code. Everything a run needs is checked here before any request is sent: every
block's settings against its kind (`blocks.KINDS`), every variable a prompt uses must be a seed
field or written by an earlier block, every field a block says it reads must appear in its prompt
(a grounded response prompt without `{context}` would let the teacher answer ungrounded), filters
name a judge, blocks name known teacher profiles.

The files are outside text and trusted for nothing: only regular files are opened (a FIFO or a
device never is), each up to `MAX_FILE_BYTES`, parsed under the same depth and alias limits as
lint's (`seeds.yamlio`), and a prompt file must lie inside the flow's folder (no absolute path,
no `..`, no symlink out of it): a flow copied from elsewhere cannot make a run read and send
another file. A run stores its flow (`Flow.stored()`, prompts included) and resumes from that
copy, so editing prompt files never changes a run that already started.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab_tui.pipeline.blocks import (BUILTINS, OVERRIDABLE, SEED_FIELDS, Block, FlowError, build_block, kind_of,
                                     parse_prompt)
from lab_tui.resources import data_folder
from lab_tui.seeds.yamlio import MAX_ALIAS_EXPANSION, MAX_DEPTH, _load_tree, _Refused

__all__ = ["Block", "Flow", "FlowError", "PairSpec", "SEED_FIELDS", "bundled_flows", "choose_flow",
           "default_flow_for", "flow_folder", "load_flow", "parse_flow", "stored_flow"]

DEFAULT_FLOWS = {True: "grounded_skills", False: "freeform_skills"}
"""As `ilab data generate` chooses: seed examples with a context run grounded, without freeform."""
TRANSFORMATION_FLOW = "transformation_skills"
"""For seed examples that all give one instruction about different contexts (see `choose_flow`)."""
_WORD = re.compile(r"[a-z0-9]+")
_COMMON = frozenset("about also been being could does from have into more most only over should such than that "
                    "their them then there these they this those were what when where which will with would your "
                    "please using".split())
MAX_FILE_BYTES = 1 << 20
"""A flow or prompt file larger than this is refused (the bundled ones are a few kilobytes)."""
_REFUSED = {
    "yaml/too-deep": f"it nests more than {MAX_DEPTH} levels deep",
    "yaml/alias-bomb": f"its aliases (*name) would expand it to more than {MAX_ALIAS_EXPANSION:,} values",
    "yaml/recursive-alias": "an alias (*name) refers to a value that contains it",
}


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

    def counts(self) -> dict[str, int]:
        """The run's counts this flow has (its blocks' `count_param`s), each with its value here."""
        counts: dict[str, int] = {}
        for block in self.blocks:
            if block.count_param:
                counts.setdefault(block.count_param, block.count)
        return counts

    def seed_variables(self) -> set[str]:
        return {v for b in self.blocks if b.prompt for v in b.prompt.variables if SEED_FIELDS.get(v)}

    def stored(self) -> dict:
        """The flow file plus every prompt's text, as kept with a run: what exactly was asked."""
        return {**self.source, "prompts": {b.name: b.prompt.stored() for b in self.blocks if b.prompt}}


def _read_yaml(path: Path, what: str) -> tuple[object, bytes]:
    """The file's data and bytes: a regular file only (a FIFO would block the read, a device never
    ends), opened without blocking and checked again once open, parsed under lint's limits."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise FlowError(f"{path}: cannot read the {what}: it is not a regular file")
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                raise FlowError(f"{path}: cannot read the {what}: it is not a regular file")
            raw = os.read(handle, MAX_FILE_BYTES + 1)
        finally:
            os.close(handle)
        if len(raw) > MAX_FILE_BYTES:
            raise FlowError(f"{path}: cannot read the {what}: it is over {MAX_FILE_BYTES:,} bytes")
        return _load_tree(raw.decode("utf-8"))[1], raw
    except _Refused as refused:
        raise FlowError(f"{path}: cannot read the {what}: {_REFUSED.get(refused.finding.rule, refused)}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise FlowError(f"{path}: cannot read the {what} ({' '.join(str(error).split())})") from error


def _prompt_path(folder: Path, name: object, where: str, block: str) -> Path:
    """A prompt file named by a block, refused unless it lies inside the flow's folder."""
    if not isinstance(name, str) or not name:
        raise FlowError(f"{where}: block {block!r}: prompt must name a file in the flow's folder")
    path = folder / name
    if Path(name).is_absolute() or not path.resolve().is_relative_to(folder.resolve()):
        raise FlowError(f"{where}: block {block!r}: prompt {name!r} is outside the flow's folder; a flow's "
                        "prompts live beside its flow.yaml")
    return path


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
    missing = [role for role in ("user", "response", "question") if role not in raw]
    if missing:
        raise FlowError(f"{where}: `pair:` needs {missing[0]!r}")
    judges = raw.get("judges") or []
    names = [raw["user"], raw["response"], raw["question"], raw.get("context") or ""]
    if not isinstance(judges, list) or not all(isinstance(name, str) for name in names + judges):
        raise FlowError(f"{where}: `pair:` names fields and judges by their names (text)")
    spec = PairSpec(user=raw["user"], response=raw["response"], question=raw["question"],
                    context=raw.get("context"), judges=tuple(judges))
    written = {b.writes for b in blocks if b.writes}
    for role in ("user", "response", "question", "context"):
        value = getattr(spec, role)
        if value is not None and value not in written:
            raise FlowError(f"{where}: pair {role} {value!r} is written by no block")
    for judge in spec.judges:
        if not any(b.name == judge and b.scored for b in blocks):
            raise FlowError(f"{where}: pair judge {judge!r} is not a judge block of this flow")
    return spec


def _check_wiring(blocks: tuple[Block, ...], pair: PairSpec, where: str, prompt_files: dict[str, str],
                  profiles: set[str] | None) -> None:
    available = set(SEED_FIELDS) | BUILTINS
    earlier: dict[str, Block] = {}
    for block in blocks:
        origin = prompt_files.get(block.name, where)
        if block.name in earlier:
            raise FlowError(f"{where}: two blocks are named {block.name!r}")
        problem = block.wiring_problem(earlier)
        if problem:
            raise FlowError(f"{where}: {block.kind} {block.name!r} {problem}")
        scored_field = block.ontask_of()
        if scored_field is not None and scored_field not in {pair.context, pair.question, pair.response}:
            raise FlowError(f"{where}: {block.kind} {block.name!r} reads the on-task score of {scored_field!r}, which "
                            "the pair does not hold: texts are scored as the pair's context, question and response")
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
                block.scored or block.writes == pair.response) and pair.context not in used:
            raise FlowError(f"{origin}: in a grounded flow the {block.name!r} prompt must use {{{pair.context}}}; "
                            "without it the teacher would answer (or judge) without the context")
        earlier[block.name] = block
        available |= block.fields_written()


def _settings_by_block(settings: dict, names: set[str]) -> dict[str, dict]:
    """`{"BLOCK.KEY": value}` as {block: {key: value}}; a block or key this flow cannot take is refused."""
    by_block: dict[str, dict] = {name: {} for name in names}
    unknown = []
    for setting, value in settings.items():
        name, _, key = setting.rpartition(".")
        if name in by_block and key in OVERRIDABLE:
            by_block[name][key] = value
        else:
            unknown.append(setting)
    if unknown:
        raise FlowError(f"cannot override {', '.join(sorted(unknown))}: give BLOCK.KEY with a block of this flow and "
                        f"KEY one of {', '.join(OVERRIDABLE)}")
    return by_block


def parse_flow(data: object, *, where: str, prompts: dict[str, object], counts: dict | None = None,
               settings: dict | None = None, preview: bool = False, profiles: set[str] | None = None,
               prompt_files: dict[str, str] | None = None, version: str = "", strict: bool = True) -> Flow:
    """A Flow from the flow file's data and each LLM block's prompt data (by block name), with a run's
    counts (by count_param; a count the flow lacks is left to the caller), settings (`BLOCK.KEY`) and
    preview applied. `strict=False` (a run's stored flow) drops settings a block's kind does not take."""
    if not isinstance(data, dict) or not isinstance(data.get("blocks"), list) or not data["blocks"]:
        raise FlowError(f"{where}: a flow is a mapping with a non-empty `blocks:` list")
    for key in ("name", "description"):
        if not isinstance(data.get(key, ""), str):
            raise FlowError(f"{where}: the flow's {key} must be text")
    legacy = any(isinstance(b, dict) and "type" in b for b in data["blocks"])
    raws = [_legacy(b) if legacy and isinstance(b, dict) else b for b in data["blocks"]]
    if not all(isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"] for raw in raws):
        raise FlowError(f"{where}: every block is a mapping with a `name` (text)")
    by_block = _settings_by_block(settings or {}, {raw["name"] for raw in raws})
    blocks = []
    for raw in raws:
        name = raw["name"]
        kind = kind_of(raw)
        prompt = parse_prompt(prompts[name], (prompt_files or {}).get(name, where)) \
            if kind is not None and kind.asks and name in prompts else None
        blocks.append(build_block(raw, where=where, prompt=prompt, counts=counts or {}, settings=by_block[name],
                                  preview=preview, strict=strict))
    blocks = tuple(blocks)
    pair = _pair(data.get("pair") if not legacy else
                 {"user": "user_turn", "response": "response", "question": "question", "context": "context",
                  "judges": [b.name for b in blocks if b.scored]}, blocks, where)
    _check_wiring(blocks, pair, where, prompt_files or {}, profiles)
    return Flow(data.get("name") or "flow", blocks, pair, version, data, data.get("description") or "")


def bundled_flows() -> list[str]:
    root = data_folder("prompts")
    return sorted(p.parent.name for p in root.glob("*/flow.yaml"))


def flow_folder(name_or_dir: str | Path) -> Path:
    """A flow folder given by path, or a bundled flow by name."""
    path = Path(name_or_dir).expanduser()
    if os.path.lexists(path / "flow.yaml"):  # whatever it is: reading it says what is wrong with it
        return path
    bundled = data_folder("prompts") / str(name_or_dir)
    if "/" not in str(name_or_dir) and (bundled / "flow.yaml").is_file():
        return bundled
    raise FlowError(f"no flow {str(name_or_dir)!r}: give a folder holding a flow.yaml, or one of the bundled flows "
                    f"({', '.join(bundled_flows())})")


def load_flow(name_or_dir: str | Path = DEFAULT_FLOWS[True], *, counts: dict | None = None,
              settings: dict | None = None, preview: bool = False, profiles: set[str] | None = None) -> Flow:
    """Read a flow folder's `flow.yaml` and its prompts, and check its wiring."""
    folder = flow_folder(name_or_dir)
    flow_path = folder / "flow.yaml"
    data, raw = _read_yaml(flow_path, "flow")
    digest = hashlib.sha256(raw)
    prompts, files = {}, {}
    for block in data.get("blocks") or [] if isinstance(data, dict) else []:
        kind = kind_of(block) if isinstance(block, dict) else None
        if kind is not None and kind.asks and isinstance(block.get("name"), str) and "prompt" in block:
            prompt_path = _prompt_path(folder, block["prompt"], str(flow_path), block["name"])
            prompts[block["name"]], prompt_raw = _read_yaml(prompt_path, "prompt")
            files[block["name"]] = str(prompt_path)
            digest.update(prompt_raw)
    return parse_flow(data, where=str(flow_path), prompts=prompts, counts=counts, settings=settings, preview=preview,
                      profiles=profiles, prompt_files=files, version=digest.hexdigest()[:16])


def stored_flow(stored: dict, *, counts: dict | None = None, settings: dict | None = None,
                preview: bool = False) -> Flow:
    """The flow a run stored, prompts included (also the grounded flow of runs made before flows were data)."""
    data = {k: v for k, v in stored.items() if k != "prompts"}
    return parse_flow(data, where="the run's stored flow", prompts=stored.get("prompts") or {}, counts=counts,
                      settings=settings, preview=preview, strict=False)


def choose_flow(examples: list) -> tuple[str, str]:
    """(the bundled flow a skill runs with, why, in a few words), or FlowError for a skill mixing
    examples with and without context.

    Seed examples with a context whose questions draw nothing from their own context (no word of
    a question is in its context unless another seed question has it too) give one instruction
    about different material: a transformation skill (rewrite this, summarise this). Its pairs need
    new material with the same instruction, not new questions about new material, which is what
    the grounded flow would make of it."""
    with_context = [i + 1 for i, e in enumerate(examples) if e.context]
    without = [i + 1 for i, e in enumerate(examples) if not e.context]
    if with_context and without:
        raise FlowError(f"this skill mixes seed examples with a context ({_numbers(with_context)}) and without "
                        f"({_numbers(without)}); give every example a context, or none (InstructLab would run "
                        "the whole skill with the flow of its first example)")
    if not with_context:
        return DEFAULT_FLOWS[False], "the seed examples have no context"
    if len(examples) > 1 and not any(_own_words(examples, index) for index in range(len(examples))):
        return TRANSFORMATION_FLOW, (f"the {len(examples)} seed questions give one instruction and differ only in "
                                     "their context: new contexts get the seed's instruction")
    return DEFAULT_FLOWS[True], "the seed examples have a context, and their questions ask about it"


def default_flow_for(examples: list) -> str:
    """The bundled flow a skill runs with (`choose_flow` without its reason)."""
    return choose_flow(examples)[0]


def _content_words(text: str | None) -> set[str]:
    return {word for word in _WORD.findall((text or "").lower()) if len(word) > 3 and word not in _COMMON}


def _own_words(examples: list, index: int) -> set[str]:
    """Words of a seed question taken from its own context that no other seed question uses."""
    others = set().union(*(_content_words(e.question) for i, e in enumerate(examples) if i != index))
    example = examples[index]
    return (_content_words(example.question) & _content_words(example.context)) - others


def _numbers(items: list[int]) -> str:
    return ("example " if len(items) == 1 else "examples ") + ", ".join(map(str, items))
