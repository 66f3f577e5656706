"""House style of a taxonomy qna.yaml that neither the schema nor yamllint checks.

Multi-line text belongs in `|` block scalars: a quoted string full of `\\n` escapes is valid
YAML but unreadable in review, and InstructLab's template writes every multi-line value as a
block. Keys belong in the template's order (version, task_description, created_by,
seed_examples; context, question, answer), which is what reviewers expect to read. Both are
`info`: the file is valid either way, and each has a mechanical fix.
"""

from __future__ import annotations

import yaml

from lab_tui.seeds.model import Finding

SKILL_KEYS = ("version", "task_description", "created_by", "seed_examples")
EXAMPLE_KEYS = ("context", "question", "answer")


def _out_of_order(keys: list[str], canonical: tuple[str, ...]) -> bool:
    known = [k for k in keys if k in canonical]
    return known != sorted(known, key=canonical.index)


def _flow_multiline(node: yaml.Node) -> bool:
    """A quoted or plain scalar whose value has line breaks inside (not just a trailing one)."""
    return (isinstance(node, yaml.ScalarNode) and node.style in ('"', "'", None)
            and "\n" in str(node.value).strip("\n"))


def style_findings(root: yaml.Node | None) -> list[Finding]:
    if not isinstance(root, yaml.MappingNode):
        return []
    findings = []
    unordered: list[tuple[str, int]] = []
    top = [(key.value, key, value) for key, value in root.value if isinstance(key, yaml.ScalarNode)]
    if _out_of_order([name for name, _, _ in top], SKILL_KEYS):
        unordered.append(("the top-level keys", root.start_mark.line + 1))
    for name, key, value in top:
        if name == "task_description" and _flow_multiline(value):
            findings.append(_block_finding(None, name, key))
        if name != "seed_examples" or not isinstance(value, yaml.SequenceNode):
            continue
        for index, item in enumerate(value.value):
            if not isinstance(item, yaml.MappingNode):
                continue
            pairs = [(k.value, k, v) for k, v in item.value if isinstance(k, yaml.ScalarNode)]
            if _out_of_order([field for field, _, _ in pairs], EXAMPLE_KEYS):
                unordered.append((f"example {index + 1}", item.start_mark.line + 1))
            for field, field_key, field_value in pairs:
                if field in EXAMPLE_KEYS and _flow_multiline(field_value):
                    findings.append(_block_finding(index, field, field_key))
    if unordered:
        # One finding for the file: bot-written files sort every mapping, and one fix reorders them all.
        places = ", ".join(place for place, _ in unordered[:3]) + (" and more" if len(unordered) > 3 else "")
        findings.append(Finding("yaml/key-order", "info",
                                f"Keys are not in the template's order (version, task_description, created_by, "
                                f"seed_examples; context, question, answer) in {places}.",
                                line=unordered[0][1], fix="key-order"))
    return findings


def _block_finding(example: int | None, field: str, key: yaml.Node) -> Finding:
    return Finding("yaml/block-style", "info",
                   f"The multi-line {field} is written as a quoted or plain string; a `|` block shows its lines "
                   "as they are.", example=example, field=field, line=key.start_mark.line + 1, fix="block-style")
