"""Read and write InstructLab qna.yaml skills.

Saving edits the original text in place: contributors' files use every YAML style there is
(folded, quoted, wrapped, `---`, comments), and a re-dump would rewrite lines nobody touched.
Changed values are replaced where they stand (a folded `>` value stays folded when it can);
examples added, removed or moved splice their own lines in or out, and an upgrade edits only the
`version` key. Only what cannot be located (a field added to or dropped from an example, unknown
top-level keys changed, flow-style lists) falls back to a full dump in the taxonomy's style, and
every in-place result is read back and compared before it is used.
"""

from __future__ import annotations

import textwrap
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
    stamp: Any = None
    """The file as read (`io.FileStamp`), so a save can tell whether someone changed it since."""


_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 100
"""Nesting a skill never needs (it has four levels); deeper documents are refused before any recursion."""
MAX_ALIAS_EXPANSION = 100_000
"""Values that aliases may add on top of the document's own: a 600-byte "billion laughs" adds billions."""


class _Refused(Exception):
    """A document lab-tui will not build (too deep, or aliases that expand without bound)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def _load_tree(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once into a node tree and the data built from it; libyaml when installed.

    The node tree is measured before anything is built from it (`_refuse_if_unbounded`). A syntax
    error is re-raised from the pure-Python parser, whose messages and marks the tests and users
    see, so the two parsers never disagree about where a file is broken; that parser only
    composes (never builds), and running out of stack there is a finding, not a crash. libyaml
    also accepts tabs as separators where the pure-Python scanner (the one InstructLab's
    validator uses) refuses them (`created_by:<TAB>x`), so text with a tab is scanned by that one too.
    """
    try:
        loader = _FastLoader(text)
        try:
            root = loader.get_single_node()
            _refuse_if_unbounded(root)
            contents = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        if "nesting depth" in str(getattr(error, "problem", "")):  # libyaml's own limit (1000 levels)
            raise _Refused(_too_deep()) from None
        try:
            yaml.compose(text, Loader=yaml.SafeLoader)
        except RecursionError:
            raise _Refused(_too_deep()) from None
        raise
    except RecursionError:
        raise _Refused(_too_deep()) from None
    if "\t" in text:
        yaml.compose(text, Loader=yaml.SafeLoader)
    return root, contents


def _too_deep() -> Finding:
    return Finding("yaml/too-deep", "error",
                   f"This document nests more than {MAX_DEPTH} levels deep; a skill has four (keys, seed_examples, "
                   "an example, its fields), so lab-tui does not read it.", line=1, column=1)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _refuse_if_unbounded(root: yaml.Node | None) -> None:
    """Measure the node graph (aliases share nodes, so it is a DAG, or has a cycle) without recursion:
    its height, and how many values building it would make."""
    height: dict[int, int] = {}
    expanded: dict[int, int] = {}
    ancestors: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)] if root is not None else []
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            ancestors.discard(key)
            children = _children(node)
            height[key] = 1 + max((height[id(c)] for c in children), default=0)
            expanded[key] = 1 + sum(expanded[id(c)] for c in children)
            if height[key] > MAX_DEPTH:
                raise _Refused(_too_deep())
            if expanded[key] - len(expanded) > MAX_ALIAS_EXPANSION:
                raise _Refused(Finding(
                    "yaml/alias-bomb", "error",
                    f"Aliases (*name) in this document would expand it to more than {MAX_ALIAS_EXPANSION:,} values "
                    "beyond its own, so lab-tui does not build it. A skill needs no anchors or aliases.",
                    line=node.start_mark.line + 1, column=node.start_mark.column + 1))
            continue
        if key in height:
            continue
        if key in ancestors:
            raise _Refused(Finding("yaml/recursive-alias", "error",
                                   "An alias (*name) refers to a value that contains it, so the document is endless.",
                                   line=node.start_mark.line + 1, column=node.start_mark.column + 1))
        if len(ancestors) >= MAX_DEPTH:
            raise _Refused(_too_deep())
        ancestors.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in height)


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
    except _Refused as refused:
        return LoadResult(None, [refused.finding], None, text)
    except yaml.YAMLError as error:
        return LoadResult(None, [_syntax_finding(error)], None, text)
    if not contents:  # nothing, {}, [] or only comments: InstructLab warns and skips such a file
        return LoadResult(None, [Finding("schema/empty", "warning",
                                         "The file is empty, so it holds no skill (InstructLab skips it).",
                                         line=1)], contents, text)
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
    for index, raw in enumerate(examples_raw):
        raw = raw if isinstance(raw, dict) else {}
        examples.append(
            SeedExample(
                question=_as_text(raw.get("question")),
                answer=_as_text(raw.get("answer")),
                context=_as_text(raw["context"]) if "context" in raw else None,
                extra={k: v for k, v in raw.items() if k not in EXAMPLE_KEYS},
                key_order=list(raw),
                source_index=index,
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
    """The skill as the mapping it saves as (no `version` key for the first format)."""
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
        "version": skill.version,
        "task_description": skill.task_description,
        "created_by": skill.created_by,
        "seed_examples": examples,
    }
    if skill.version is None:
        del values["version"]
    values.update(skill.extra)
    return _ordered(values, skill.key_order, SKILL_KEYS)


def dump_yaml_skill(skill: Skill) -> str:
    """The text `save` would write: the original with only what changed edited in place, when possible."""
    if skill.source_text is not None:
        edited = _edit_in_place(skill, skill.source_text)
        if edited is not None and _same_content(parse_yaml_skill(edited).skill, skill):
            return edited
    return yaml.dump(skill_document(skill), Dumper=_SkillDumper, sort_keys=False, allow_unicode=True, width=100)


def _same_content(written: Skill | None, skill: Skill) -> bool:
    """Whether text edited in place reads back as the skill it was meant to hold."""
    def content(s: Skill) -> tuple:
        return (s.version, s.task_description, s.created_by, s.extra,
                [(e.context, e.question, e.answer, e.extra) for e in s.examples])
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


def _render_folded(value: str, indent: int, width: int) -> str | None:
    """Text as a folded `>` block wrapped at `width` (a blank line per newline), or None if folding changes it."""
    body = value.removesuffix("\n")
    if not body.strip() or body.endswith("\n"):
        return None
    lines: list[str] = []
    for index, paragraph in enumerate(body.split("\n")):
        if index:
            lines.append("")
        lines.extend(" " * indent + line
                     for line in textwrap.wrap(paragraph, width, break_long_words=False, break_on_hyphens=False))
    rendered = (">\n" if value.endswith("\n") else ">-\n") + "\n".join(lines)
    try:
        return rendered if yaml.safe_load("k: " + rendered + "\n")["k"] == value else None
    except yaml.YAMLError:
        return None


def _scalar_edit(text: str, key: yaml.Node, value: yaml.Node, new: str) -> tuple[int, int, str]:
    """Replace one value where it stands, in its own style when it was folded."""
    start, end = value.start_mark.index, value.end_mark.index
    while end > start and text[end - 1] == "\n":
        end -= 1
    indent = key.start_mark.column + 2
    rendered = None
    if getattr(value, "style", None) == ">":
        width = max((len(line.strip()) for line in text[start:end].splitlines()[1:]), default=0)
        rendered = _render_folded(new, indent, max(width, 40))
    return start, end, rendered or _render_scalar(new, indent)


def _splice(text: str, edits: list[tuple[int, int, str]], lo: int, hi: int) -> str:
    """text[lo:hi] with the edits that fall inside it applied."""
    segment = text[lo:hi]
    for start, end, new in sorted((e for e in edits if lo <= e[0] < hi), key=lambda e: e[0], reverse=True):
        segment = segment[:start - lo] + new + segment[end - lo:]
    return segment


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _item_spans(text: str, sequence: yaml.SequenceNode) -> list[tuple[int, int]] | None:
    """Each block-sequence item's lines, from its `-` line to the next item's (comments travel with it)."""
    starts = []
    for node in sequence.value:
        dash = text.rfind("-", 0, node.start_mark.index)
        if dash < 0 or text[dash + 1:node.start_mark.index].strip() or text[_line_start(text, dash):dash].strip():
            return None
        starts.append(_line_start(text, dash))
    end = sequence.value[-1].end_mark.index
    while end > 0 and text[end - 1] in " \t\r\n":
        end -= 1
    newline = text.find("\n", end)
    return list(zip(starts, starts[1:] + [len(text) if newline < 0 else newline + 1]))


NEW_TEXT_WIDTH = 80
"""Columns a new example's lines keep within, as the taxonomy's hand-written files do."""


def _render_new_value(key: str, value: str, indent: int) -> str:
    """A new example's value in the taxonomy's style: multi-line text as a `|` block (its lines as
    they are); one long line (a model's paragraph) as a `>-` block wrapped within `NEW_TEXT_WIDTH`
    columns, which reads back as exactly the same text (no newline is added to it)."""
    rendered = _render_scalar(value, indent)
    if "\n" not in value and len(key) + 2 + len(rendered) > NEW_TEXT_WIDTH:
        return _render_folded(value, indent, max(40, NEW_TEXT_WIDTH - indent)) or rendered
    return rendered


def _render_example(example: SeedExample, dash_column: int, key_column: int) -> str:
    """A new example in the file's own indentation, its multi-line values as `|` blocks and its long
    lines folded (`_render_new_value`), never a 300-character line."""
    values = {"context": example.context, "question": example.question, "answer": example.answer}
    if example.context is None:
        del values["context"]
    lines = [f"{key}: {_render_new_value(key, value, key_column + 2)}"
             for key, value in _ordered(values, example.key_order, EXAMPLE_KEYS).items()]
    first = " " * dash_column + "-" + " " * (key_column - dash_column - 1)
    return first + ("\n" + " " * key_column).join(lines) + "\n"


def _edit_in_place(skill: Skill, text: str) -> str | None:
    """The original text with only the changed values, examples and version edited; None if that cannot be."""
    try:
        root = yaml.compose(text, Loader=_FastLoader)
        original = parse_yaml_skill(text).skill
    except yaml.YAMLError:
        return None
    if original is None or not isinstance(root, yaml.MappingNode) or original.extra != skill.extra:
        return None
    top = {key.value: (key, value) for key, value in root.value}
    sequence = top["seed_examples"][1]
    if not isinstance(sequence, yaml.SequenceNode) or sequence.flow_style:
        return None
    kept = [e.source_index for e in skill.examples if e.source_index is not None]
    if len(set(kept)) != len(kept) or any(not 0 <= index < len(original.examples) for index in kept):
        return None
    edits: list[tuple[int, int, str]] = []
    if skill.version != original.version:
        if skill.version is None:
            return None
        if "version" in top:
            value = top["version"][1]
            edits.append((value.start_mark.index, value.end_mark.index, str(skill.version)))
        else:
            at = _line_start(text, root.value[0][0].start_mark.index)
            edits.append((at, at, f"version: {skill.version}\n"))
    for name in ("task_description", "created_by"):
        if getattr(original, name) != getattr(skill, name):
            if name not in top or not isinstance(top[name][1], yaml.ScalarNode):
                return None
            edits.append(_scalar_edit(text, *top[name], getattr(skill, name)))
    for example in skill.examples:
        if example.source_index is None:
            if example.extra:
                return None
            continue
        before, node = original.examples[example.source_index], sequence.value[example.source_index]
        if not isinstance(node, yaml.MappingNode) or (before.context is None) != (example.context is None) \
                or before.extra != example.extra:
            return None  # a key to add or drop: only a full dump knows where it goes
        pairs = {key.value: (key, value) for key, value in node.value}
        for name in EXAMPLE_KEYS:
            if name in pairs and getattr(before, name) != getattr(example, name):
                if not isinstance(pairs[name][1], yaml.ScalarNode):
                    return None
                edits.append(_scalar_edit(text, *pairs[name], getattr(example, name) or ""))
    if [e.source_index for e in skill.examples] == list(range(len(original.examples))):
        return _splice(text, edits, 0, len(text))
    spans = _item_spans(text, sequence) if sequence.value else None
    if spans is None:
        return None
    first = sequence.value[0]
    dash_column = spans[0][0] and text.rfind("-", 0, first.start_mark.index) - spans[0][0]
    pieces = []
    for example in skill.examples:
        if example.source_index is None:
            pieces.append(_render_example(example, dash_column, first.start_mark.column))
        else:
            piece = _splice(text, edits, *spans[example.source_index])
            pieces.append(piece if piece.endswith("\n") else piece + "\n")
    region_start, region_end = spans[0][0], spans[-1][1]
    body = "".join(pieces)
    if not text[:region_end].endswith("\n") and skill.examples[-1].source_index == len(spans) - 1:
        body = body.removesuffix("\n")  # the file ended without a newline after this same example
    return _splice(text, edits, 0, region_start) + body + _splice(text, edits, region_end, len(text))


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree (None when the text does not parse): it knows every value's line and style."""
    try:
        return yaml.compose(text, Loader=_FastLoader)
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
