"""Read and write InstructLab qna.yaml skills.

Saving edits the original text in place, field by field, whenever the examples keep their
shape: contributors' files use every YAML style there is (folded, quoted, wrapped), and a
re-dump would rewrite lines nobody touched. Only structural edits (examples added, removed,
reordered, a field added or dropped) fall back to a full dump in the taxonomy's style.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab_tui.seeds.model import Finding, SeedExample, Skill

EXAMPLE_KEYS = ("context", "question", "answer")
SKILL_KEYS = ("version", "task_description", "created_by", "seed_examples")


@dataclass
class LoadResult:
    """What reading a file produced: a skill (None when unreadable) and what was wrong."""

    skill: Skill | None
    findings: list[Finding] = field(default_factory=list)
    contents: Any = None
    """The raw parsed document, for schema validation."""
    text: str | None = None
    root: Any = None
    """The YAML node tree the contents were built from (lines and styles), so linting parses once."""


_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_tree(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once into a node tree and the data built from it; libyaml when installed.

    A syntax error is re-raised from the pure-Python parser, whose messages and marks the tests
    and users see, so the two parsers never disagree about where a file is broken.
    """
    try:
        loader = _FastLoader(text)
        try:
            root = loader.get_single_node()
            return root, (loader.construct_document(root) if root is not None else None)
        finally:
            loader.dispose()
    except yaml.YAMLError:
        yaml.safe_load(text)
        raise


def _syntax_finding(error: yaml.YAMLError) -> Finding:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"This is not valid YAML: {problem}" + (f" ({context})" if context else "")
    message += ". Check the indentation and quoting on this line or the one before it."
    return Finding(
        "yaml/syntax",
        "error",
        message,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def parse_yaml_skill(text: str, path: Path | None = None) -> LoadResult:
    try:
        root, contents = _load_tree(text)
    except yaml.YAMLError as error:
        return LoadResult(None, [_syntax_finding(error)], None, text)
    if contents is None:
        return LoadResult(None, [Finding("schema/empty", "error", "The file is empty.", line=1)], None, text)
    if not isinstance(contents, dict):
        return LoadResult(
            None,
            [Finding("schema/not-a-mapping", "error",
                     "The top level of a skill file must be a mapping of keys (version, task_description, "
                     f"created_by, seed_examples), not a {type(contents).__name__}.", line=1, column=1)],
            contents, text,
        )
    if "document" in contents or "document_outline" in contents:
        return LoadResult(
            None,
            [Finding("schema/knowledge-not-skill", "error",
                     "This is a knowledge contribution (it has `document`), not a skill: lab-tui edits "
                     "compositional skills.", line=1, column=1)],
            contents, text,
        )
    examples_raw = contents.get("seed_examples")
    if not isinstance(examples_raw, list):
        return LoadResult(
            None,
            [Finding("schema/not-a-skill", "error",
                     "This file has no `seed_examples` list, so it is not a skill.", line=1, column=1)],
            contents, text,
        )
    examples = []
    for raw in examples_raw:
        raw = raw if isinstance(raw, dict) else {}
        examples.append(
            SeedExample(
                question=_as_text(raw.get("question")),
                answer=_as_text(raw.get("answer")),
                context=_as_text(raw["context"]) if "context" in raw else None,
                extra={k: v for k, v in raw.items() if k not in EXAMPLE_KEYS},
                key_order=list(raw),
            )
        )
    version = contents.get("version")
    skill = Skill(
        task_description=_as_text(contents.get("task_description")),
        created_by=_as_text(contents.get("created_by")),
        examples=examples,
        version=version if isinstance(version, int) else (None if version is None else version),
        path=path,
        format="qna_yaml",
        extra={k: v for k, v in contents.items() if k not in SKILL_KEYS},
        key_order=list(contents),
        source_text=text,
    )
    findings = [] if skill.version == 3 else [upgrade_finding(skill.version, node_lines(root).get(("version",), 1))]
    return LoadResult(skill, findings, contents, text, root)


def upgrade_finding(version: object, line: int | None = 1) -> Finding:
    """Versions 1 and 2 open fine but the taxonomy only accepts 3: offer the upgrade as a fix."""
    old = "the first format (no version key)" if version is None else f"version {version}"
    return Finding("schema/old-version", "warning",
                   f"This file uses {old}; the taxonomy now requires version 3. Upgrade it (nothing else changes).",
                   line=line, fix="upgrade-to-v3")


class _SkillDumper(yaml.SafeDumper):
    """Block scalars for multi-line text and indented sequences, as the taxonomy writes them."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value.strip("\n") or value.endswith("\n") else None
    if style and any(line != line.rstrip() for line in value.splitlines()):
        style = None  # yaml cannot keep trailing spaces in a block scalar
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SkillDumper.add_representer(str, _represent_str)


def _ordered(values: dict, order: list[str], canonical: tuple[str, ...]) -> dict:
    keys = [k for k in order if k in values] + [k for k in canonical if k in values and k not in order]
    keys += [k for k in values if k not in keys]
    return {k: values[k] for k in keys}


def skill_document(skill: Skill) -> dict:
    """The skill as the version 3 mapping it saves as."""
    examples = []
    for example in skill.examples:
        values = {}
        if example.context is not None:
            values["context"] = example.context
        values["question"] = example.question
        values["answer"] = example.answer
        values.update(example.extra)
        examples.append(_ordered(values, example.key_order, EXAMPLE_KEYS))
    values = {
        "version": 3,
        "task_description": skill.task_description,
        "created_by": skill.created_by,
        "seed_examples": examples,
    }
    values.update(skill.extra)
    return _ordered(values, skill.key_order, SKILL_KEYS)


def dump_yaml_skill(skill: Skill) -> str:
    """The text `save` would write: the original with fields edited in place when possible."""
    if skill.source_text is not None and skill.version == 3:
        edited = _edit_in_place(skill, skill.source_text)
        if edited is not None and _same_content(parse_yaml_skill(edited).skill, skill):
            return edited
    return yaml.dump(skill_document(skill), Dumper=_SkillDumper, sort_keys=False, allow_unicode=True, width=100)


def _same_content(written: Skill | None, skill: Skill) -> bool:
    """Whether text edited in place reads back as the skill it was meant to hold."""
    def content(s: Skill) -> tuple:
        return (s.task_description, s.created_by, [(e.context, e.question, e.answer) for e in s.examples])
    return written is not None and content(written) == content(skill)


def _render_scalar(value: str, indent: int) -> str:
    """A value as it would follow `key: `, for a key whose values are indented by `indent`."""
    if "\n" in value:
        body = value.rstrip("\n")
        if any(line != line.rstrip() or line.startswith(" ") for line in body.splitlines()[:1]):
            return yaml.dump(value, Dumper=_SkillDumper, default_style='"', width=10**9).rstrip("\n")
        chomp = "" if value.endswith("\n") and not value.endswith("\n\n") else ("-" if not value.endswith("\n") else "+")
        pad = " " * indent
        lines = [pad + line if line else "" for line in body.split("\n")]
        return f"|{chomp}\n" + "\n".join(lines)
    rendered = yaml.dump({"k": value}, Dumper=_SkillDumper, width=10**9, allow_unicode=True, sort_keys=False)
    return rendered[3:].rstrip("\n")


def _edit_in_place(skill: Skill, text: str) -> str | None:
    """Replace only the scalars whose values changed; None when the structure changed."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        original = parse_yaml_skill(text).skill
    except yaml.YAMLError:
        return None
    if original is None or not isinstance(root, yaml.MappingNode):
        return None
    if [set(e.key_order) for e in original.examples] != [set(e.key_order) for e in skill.examples]:
        return None
    if original.extra != skill.extra or original.version != skill.version:
        return None
    if any(o.extra != e.extra for o, e in zip(original.examples, skill.examples)):
        return None
    top = {key.value: (key, value) for key, value in root.value}
    edits: list[tuple[yaml.Node, yaml.Node, str]] = []
    for name in ("task_description", "created_by"):
        if getattr(original, name) != getattr(skill, name):
            if name not in top:
                return None
            edits.append((*top[name], getattr(skill, name)))
    sequence = top["seed_examples"][1]
    for node, before, after in zip(sequence.value, original.examples, skill.examples):
        pairs = {key.value: (key, value) for key, value in node.value}
        for name in EXAMPLE_KEYS:
            if name in pairs and getattr(before, name) != getattr(after, name):
                edits.append((*pairs[name], getattr(after, name) or ""))
    for key, value, new in sorted(edits, key=lambda edit: edit[1].start_mark.index, reverse=True):
        start, end = value.start_mark.index, value.end_mark.index
        while end > start and text[end - 1] == "\n":
            end -= 1
        rendered = _render_scalar(new, key.start_mark.column + 2)
        text = text[:start] + rendered + text[end:]
    return text


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree (None when the text does not parse): it knows every value's line and style."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def node_lines(text: str | yaml.Node | None) -> dict[tuple, int]:
    """1-based line of every key and value, by path: ('seed_examples', 2, 'answer') -> line."""
    root = compose(text) if isinstance(text, str) else text
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = path + (key.value,)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, path + (index,))

    if root is not None:
        walk(root, ())
    return lines


def restyle_as_block(text: str, example: int | None, field: str) -> str:
    """Rewrite one multi-line value as a `|` block scalar, leaving every other line as it was."""
    root = compose(text)
    if not isinstance(root, yaml.MappingNode):
        return text
    mapping = root
    if example is not None:
        top = {key.value: value for key, value in root.value}
        sequence = top.get("seed_examples")
        if not isinstance(sequence, yaml.SequenceNode) or example >= len(sequence.value):
            return text
        mapping = sequence.value[example]
    for key, value in getattr(mapping, "value", []):
        if key.value == field and isinstance(value, yaml.ScalarNode):
            start, end = value.start_mark.index, value.end_mark.index
            while end > start and text[end - 1] == "\n":
                end -= 1
            return text[:start] + _render_scalar(value.value, key.start_mark.column + 2) + text[end:]
    return text
