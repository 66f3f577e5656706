"""Lint a skill: InstructLab's schema and yamllint rules first, then the seed quality rules."""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path

from lab_tui.seeds.io import dump_skill, load_skill, parse_skill_text
from lab_tui.seeds.model import Finding, Skill
from lab_tui.seeds.quality import DEFAULT_TOKEN_LIMIT, quality_findings
from lab_tui.seeds.schema import schema_findings, version_of, yamllint_findings
from lab_tui.seeds.style import style_findings
from lab_tui.seeds.yamlio import LoadResult, compose, node_lines, upgrade_finding

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _locator(lines: dict[tuple, int], skill: Skill):
    """Map (example, field) to a file line, from the YAML node tree or the JSONL line number."""
    if skill.format == "jsonl":
        line_of_example = [i + 1 for i, line in enumerate((skill.source_text or "").splitlines()) if line.strip()]

        def locate(example, field):
            if example is None:
                return 1
            return line_of_example[example] if example < len(line_of_example) else None
        return locate

    def locate(example, field):
        if example is None:  # a finding about all examples' questions points at the examples
            return lines.get((field,)) or lines.get(("seed_examples",)) or 1
        return lines.get(("seed_examples", example, field)) or lines.get(("seed_examples", example))
    return locate


def _example_at_line(lines: dict[tuple, int]):
    """Which example and field a line falls in, for yamllint's line-only problems: the example and
    field of the last key or value starting at or before the line (one look-up per problem, so a
    file with a problem on every line is not scanned once per problem)."""
    starts, places = [], []
    example = field = None
    for start, path in sorted((line, path) for path, line in lines.items()):
        if len(path) >= 2 and path[0] == "seed_examples" and isinstance(path[1], int):
            example = path[1]
            field = path[2] if len(path) > 2 and isinstance(path[2], str) else None
        elif len(path) == 1:
            example, field = None, path[0]
        starts.append(start)
        places.append((example, field))

    def find(line: int):
        position = bisect_right(starts, line)
        return places[position - 1] if position else (None, None)
    return find


def lint_loaded(result: LoadResult, token_limit: int = DEFAULT_TOKEN_LIMIT) -> list[Finding]:
    findings = list(result.findings)
    skill = result.skill
    if skill is None:
        return findings
    root = (result.root or compose(result.text)) if skill.format == "qna_yaml" and result.text else None
    lines = node_lines(root)
    if skill.format == "qna_yaml":
        if skill.version != 3 and not any(f.rule == "schema/old-version" for f in findings):
            findings.append(upgrade_finding(skill.version, lines.get(("version",), 1)))
        findings.extend(schema_findings(result.contents, lines))
        findings.extend(style_findings(root))
        if version_of(result.contents) > 1:  # InstructLab runs no yamllint on version 1 (or unversioned) files
            findings.extend(yamllint_findings(result.text, _example_at_line(lines)))
    findings.extend(quality_findings(skill, _locator(lines, skill), token_limit))
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.line or 0, f.rule))


def lint_text(text: str, path: Path | str | None = None, *, token_limit: int = DEFAULT_TOKEN_LIMIT) -> list[Finding]:
    return lint_loaded(parse_skill_text(text, path), token_limit)


def lint_skill(skill: Skill, text: str | None = None, *, token_limit: int = DEFAULT_TOKEN_LIMIT) -> list[Finding]:
    """Lint a skill as it would be saved, so lines match the file the user will get."""
    text = dump_skill(skill) if text is None else text
    result = parse_skill_text(text, skill.path if skill.format == "qna_yaml" else Path("skill.jsonl"))
    if result.skill is not None:
        result.skill.version = skill.version
    return lint_loaded(result, token_limit)


def lint_path(path: Path | str, *, token_limit: int = DEFAULT_TOKEN_LIMIT) -> list[Finding]:
    return lint_loaded(load_skill(path), token_limit)
