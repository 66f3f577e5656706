"""The flow: its blocks, their prompt files, and the checks made before any request is sent.

Prompts are data (`prompts/*.yaml`); a user can point lab-tui at a copy of the folder to change
wording. Loading refuses a grounded flow whose prompt forgot a variable its stage needs (a
response prompt without `{context}` would let the teacher answer ungrounded, and a judge
without it would still pass the answer).
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
STAGE_NEEDS = {
    "gen_contexts": {"task_description", "seed_context", "sample_index"},
    "gen_grounded_questions": {"task_description", "context", "seed_question", "sample_index"},
    "eval_grounded_questions": {"context", "question"},
    "gen_grounded_responses": {"context", "question", "seed_response"},
    "evaluate_grounded_qa_pair": {"context", "question", "response"},
}
"""Variables each stage's prompt must use, whatever the user's wording."""
OVERRIDABLE = {"temperature": float, "max_tokens": int, "threshold": float, "count": int}
"""Block settings a run may override as `BLOCK.KEY` (e.g. `filter_grounded_qa_pair.threshold`)."""
OUTPUT_TAG = {"context": "Context", "question": "Question", "response": "Response"}


class FlowError(ValueError):
    """The flow or one of its prompts cannot be used; the message says which and why."""


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


@dataclass(frozen=True)
class Block:
    name: str
    type: str
    """llm | judge | filter | combine"""
    prompt: Prompt | None = None
    output: str | None = None
    count: int = 1
    count_param: str | None = None
    temperature: float = 0.7
    max_tokens: int = 1024
    scores: tuple[float, ...] = ()
    judge: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Flow:
    name: str
    blocks: tuple[Block, ...]
    version: str
    """Hash of the flow file and every prompt file: stored with each run."""
    source: dict = field(hash=False, compare=False)

    def block(self, name: str) -> Block:
        return next(b for b in self.blocks if b.name == name)

    def stored(self) -> dict:
        """The flow file plus every prompt's text, as kept with a run: what exactly was asked."""
        prompts = {b.name: {"system": b.prompt.system, **dict(zip(PROMPT_PARTS, b.prompt.parts))}
                   for b in self.blocks if b.prompt}
        return {**self.source, "prompts": prompts}


def _load_prompt(path: Path, stage: str) -> Prompt:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise FlowError(f"{path}: cannot read the prompt ({error})") from error
    if not isinstance(data, dict) or "generation" not in data:
        raise FlowError(f"{path}: a prompt needs at least `system` and `generation`")
    parts = tuple(str(data.get(part) or "") for part in PROMPT_PARTS)
    variables = frozenset(v for text in parts + (str(data.get("system", "")),) for v in VARIABLE.findall(text))
    missing = STAGE_NEEDS.get(stage, set()) - variables
    if missing:
        raise FlowError(f"{path}: the {stage} prompt must use {', '.join('{' + m + '}' for m in sorted(missing))}; "
                        "without it the teacher would answer (or judge) without what the stage is about")
    return Prompt(str(data.get("system") or ""), parts, variables)


def load_flow(folder: Path | None = None, overrides: dict | None = None) -> Flow:
    """Read `flow.yaml` and its prompts from `folder` (default: the bundled `prompts/`)."""
    folder = Path(folder) if folder else data_folder("prompts")
    flow_path = folder / "flow.yaml"
    try:
        text = flow_path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as error:
        raise FlowError(f"{flow_path}: cannot read the flow ({error})") from error
    digest = hashlib.sha256(text.encode())
    overrides = overrides or {}
    blocks = []
    for raw in data.get("blocks", []):
        raw = dict(raw)
        prompt = None
        if raw.get("prompt"):
            prompt_path = folder / raw.pop("prompt")
            prompt = _load_prompt(prompt_path, raw["name"])
            digest.update(prompt_path.read_bytes())
        if raw.get("count_param") in overrides and overrides[raw["count_param"]] is not None:
            raw["count"] = int(overrides[raw["count_param"]])
        for key, kind in OVERRIDABLE.items():
            override = overrides.get(f"{raw['name']}.{key}")
            if override is not None:
                try:
                    raw[key] = kind(override)
                except ValueError as error:
                    raise FlowError(f"{raw['name']}.{key}: {override!r} is not a {kind.__name__}") from error
        raw["scores"] = tuple(float(s) for s in raw.get("scores", ()))
        try:
            blocks.append(Block(prompt=prompt, **raw))
        except TypeError as error:
            raise FlowError(f"{flow_path}: block {raw.get('name')}: {error}") from error
    names = {b.name for b in blocks}
    unknown = sorted(k for k in overrides if "." in k and (k.split(".", 1)[0] not in names
                                                           or k.split(".", 1)[1] not in OVERRIDABLE))
    if unknown:
        raise FlowError(f"cannot override {', '.join(unknown)}: give BLOCK.KEY with a block of this flow and KEY "
                        f"one of {', '.join(OVERRIDABLE)}")
    for block in blocks:
        if block.type == "filter" and block.judge not in names:
            raise FlowError(f"{flow_path}: filter {block.name} names no judge block")
        if block.type in ("llm", "judge") and block.prompt is None:
            raise FlowError(f"{flow_path}: block {block.name} has no prompt")
    return Flow(data.get("name", "flow"), tuple(blocks), digest.hexdigest()[:16], data)
