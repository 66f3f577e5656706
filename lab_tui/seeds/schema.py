"""InstructLab's own checks, run in-process: its JSON schemas and its yamllint rules.

`TaxonomyParser` is not used: it shells out for every error's line number and raises on real
files. The schemas come from the `instructlab-schema` package, validated with jsonschema; lines
come from the YAML node tree. Strict mode (as `ilab taxonomy diff` uses) makes every yamllint
warning an error.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Mapping, Sequence

from lab_tui.seeds.model import Finding

YAMLLINT_CONFIG = "{extends: relaxed, rules: {line-length: disable}}"
"""The configuration InstructLab's validator runs yamllint with."""


@functools.lru_cache(maxsize=None)
def _validator(version: int):
    from instructlab.schema import schema_base
    from jsonschema.validators import extend, validator_for
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    folder = schema_base() / f"v{version}"

    def retrieve(uri: str):
        return Resource.from_contents(json.loads((folder / uri).read_text(encoding="utf-8")),
                                      default_specification=DRAFT202012)

    schema = json.loads((folder / "compositional_skills.json").read_text(encoding="utf-8"))
    validator = extend(validator_for(schema), {"uniqueItems": _unique_items})
    return validator(schema, registry=Registry(retrieve=retrieve))


def _unique_items(validator, unique, instance, schema):
    """jsonschema's `uniqueItems`, the same error, with seed examples compared through hashable keys: its
    own check compares every mapping with every other (23 s for 4,000 distinct seed examples)."""
    from jsonschema import ValidationError
    from jsonschema._utils import uniq

    if unique and validator.is_type(instance, "array") and (
            _repeat(instance, strict=True) is not None if _all_mappings(instance) else not uniq(instance)):
        yield ValidationError(f"{instance!r} has non-unique elements")


def _all_mappings(items: list) -> bool:
    return all(isinstance(item, Mapping) for item in items)


def _key(value, strict: bool):
    """A hashable stand-in for `value`: equal keys exactly when the values are equal, as jsonschema's
    `equal` compares them (`strict`: True is not 1, a list equals a tuple) or as Python's `==` does."""
    if isinstance(value, bool) and strict:
        return (bool, value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return (Mapping, frozenset((key, _key(item, strict)) for key, item in value.items()))
    if isinstance(value, Sequence if strict else (list, tuple, bytes)):
        return (Sequence if strict else type(value), tuple(_key(item, strict) for item in value))
    if isinstance(value, (set, frozenset)):
        return (frozenset, frozenset(value))
    hash(value)  # TypeError for anything else that cannot be a key: compared the slow way
    return value


def _repeat(items: list, strict: bool) -> tuple[int, int] | None:
    """(earlier, later) for the first item equal to an earlier one (the earliest it equals), else None,
    compared as jsonschema's `equal` (`strict`) or Python's `==` do: mappings (seed examples) through
    `_key`, anything else pair by pair."""
    if _all_mappings(items):
        try:
            seen: dict = {}
            for later, item in enumerate(items):
                earlier = seen.setdefault(_key(item, strict), later)
                if earlier != later:
                    return earlier, later
            return None
        except TypeError:
            pass
    from jsonschema._utils import equal

    same = equal if strict else operator.eq
    return next(((earlier, later) for later, item in enumerate(items) for earlier in range(later)
                 if same(items[earlier], item)), None)


def version_of(contents: dict) -> int:
    """The schema version InstructLab validates a file against (1 when missing or unreadable)."""
    value = contents.get("version", 1)
    if isinstance(value, bool):
        return 1
    try:
        return max(1, min(3, int(value)))
    except (TypeError, ValueError):
        return 1


def _plain_message(error, examples: list) -> str:
    path = list(error.absolute_path)
    where = " → ".join(str(p + 1) if isinstance(p, int) else p for p in path) or "the file"
    validator = error.validator
    if validator == "minItems":
        return f"A skill needs at least {error.validator_value} seed examples; this one has {len(error.instance)}."
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"`{missing}` is required here ({where})."
    if validator == "uniqueItems":
        first, second = _duplicate(error.instance)
        return (f"Seed examples {first + 1} and {second + 1} are exactly the same; "
                "each example must be different.")
    if validator == "unevaluatedProperties":
        return f"Unknown key in {where}: {error.message.split('(')[-1].rstrip(')')}."
    if validator == "type" and error.validator_value == "string":
        return (f"{where} must be text, but YAML read {error.instance!r} as a {type(error.instance).__name__}; "
                "put it in quotes.")
    if validator == "minLength":
        return f"{where} is empty."
    if validator == "const":
        return f"{where} must be {error.validator_value!r}, not {error.instance!r}."
    return f"{where}: {error.message[-200:]}"


def _duplicate(items: list) -> tuple[int, int]:
    """The first repeated item and the one it repeats (0-based)."""
    return _repeat(items, strict=False) or (0, 0)


def _fix_for(error) -> str | None:
    if error.validator == "type" and error.validator_value == "string":
        return "quote-scalar"
    return None


def schema_findings(contents: dict, lines: dict[tuple, int]) -> list[Finding]:
    """Everything the taxonomy's JSON schema rejects, each with a line."""
    version = version_of(contents)
    findings = []
    examples = contents.get("seed_examples") if isinstance(contents.get("seed_examples"), list) else []
    for error in _validator(version).iter_errors(contents):
        path = tuple(error.absolute_path)
        example = path[1] if len(path) > 1 and path[0] == "seed_examples" and isinstance(path[1], int) else None
        if error.validator == "uniqueItems" and path == ("seed_examples",):
            example = _duplicate(error.instance)[1]
            path = path + (example,)
        field = path[2] if example is not None and len(path) > 2 else (path[0] if path else None)
        if error.validator == "unevaluatedProperties":
            extra = [k for k in (error.instance or {}) if isinstance(error.instance, dict)]
            known = {"version", "task_description", "created_by", "seed_examples", "context", "question", "answer"}
            unknown = [k for k in extra if k not in known]
            if unknown:
                field = unknown[0]
                path = path + (unknown[0],)
        line = lines.get(path) or lines.get(path[:2]) or lines.get(path[:1]) or 1
        rule = {"required": "schema/required", "minItems": "schema/too-few-examples",
                "uniqueItems": "schema/duplicate-example", "unevaluatedProperties": "schema/unknown-key",
                "type": "schema/type", "minLength": "schema/empty-value", "const": "schema/version"}
        findings.append(Finding(rule.get(error.validator, f"schema/{error.validator}"), "error",
                                _plain_message(error, examples), example=example,
                                field=field if isinstance(field, str) else None, line=line, fix=_fix_for(error)))
    return findings


@functools.lru_cache(maxsize=1)
def _yamllint_config():
    from yamllint.config import YamlLintConfig

    return YamlLintConfig(YAMLLINT_CONFIG)


DISABLE_FILE = re.compile(r"^#\s*yamllint disable-file\s*$")
"""yamllint's opt-out comment, honoured as `yamllint.linter.run` does."""
YAMLLINT_FIXES = {"trailing-spaces": "trailing-spaces", "new-line-at-end-of-file": "final-newline",
                  "empty-lines": "final-newline"}


def yamllint_findings(text: str, example_at_line) -> list[Finding]:
    """yamllint's style problems, errors in strict mode as `ilab taxonomy diff` runs it.

    Only called for text that already parsed, so yamllint's own syntax pass (a second full
    parse, a third of its time) is skipped: the loader reports syntax errors in plain words.
    """
    from yamllint import linter

    if DISABLE_FILE.match(text.split("\n", 1)[0]):
        return []
    findings = []
    for problem in linter.get_cosmetic_problems(text, _yamllint_config(), None):
        example, field = example_at_line(problem.line)
        findings.append(Finding(f"yaml/{problem.rule}", "error", f"{problem.desc} (yamllint)", example=example,
                                field=field, line=problem.line, column=problem.column,
                                fix=YAMLLINT_FIXES.get(problem.rule)))
    return findings
