"""Linting a big skill is near-linear and finds exactly what the slower linter found.

`lint_golden.json` holds the findings the linter gave before it was made near-linear (on the commit
before "Lint: near-linear..."): every finding of every taxonomy fixture, and for the generated skills
below (thousands of findings) their number and a digest of them all. The linter must give exactly
those. The time it takes is measured in `tests/bench/bench_lint_big.py`, never here.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest

from lab_tui.seeds.lint import lint_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"
GOLDEN = json.loads((Path(__file__).parent / "lint_golden.json").read_text(encoding="utf-8"))
GENERATED = [(400, 1, True), (900, 2, True), (600, 3, False)]
WORDS = ("the report shows revenue costs margin team quarter growth plan customer product market sales region "
         "office budget hiring risk goal launch price supply demand policy review data city country").split()


def generated_skill(examples: int, seed: int, repeats: bool = True) -> str:
    """A qna.yaml with every kind of problem a big skill has, many times: repeated and nearly repeated
    contexts, questions and answers, templated questions, examples without a context among grounded
    ones, whole examples repeated (unless not `repeats`), placeholders, trailing spaces, questions
    copied from the context."""
    rng = random.Random(seed)
    made: list[tuple[str | None, str, str]] = []
    for index in range(examples):
        roll = rng.random()
        context = " ".join(rng.choice(WORDS) for _ in range(rng.randint(22, 40))).capitalize() + "."
        question = f"What does the text say about the {rng.choice(WORDS)} of {rng.choice(WORDS)} number {index}?"
        answer = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30))).capitalize() + "."
        if made and roll < 0.05 and repeats:
            context, question, answer = rng.choice(made)
        elif made and roll < 0.1:
            context = rng.choice(made)[0]
        elif made and roll < 0.15:
            answer = rng.choice(made)[2] + " Indeed."
        elif roll < 0.2:
            context = None
        elif roll < 0.23:
            answer = "Dear <NAME>, TODO."
        elif roll < 0.26 and context:
            question = context
        made.append((context, question, answer))
    lines = ["version: 3", "task_description: Answer questions about a report for new employees, in a paragraph.",
             "created_by: test", "seed_examples:"]
    for index, (context, question, answer) in enumerate(made):
        trailing = " " if index % 17 == 3 else ""
        lines += ([f"  - context: {context}{trailing}", f"    question: {question}"] if context is not None
                  else [f"  - question: {question}{trailing}"])
        lines.append(f"    answer: {answer}")
    return "\n".join(lines) + "\n"


def findings(text: str, name: str) -> list[dict]:
    return [asdict(finding) for finding in lint_text(text, Path(name))]


def digest(found: list[dict]) -> dict:
    return {"findings": len(found),
            "sha256": hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest()}


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda path: path.name)
def test_every_fixture_has_the_findings_of_the_quadratic_linter(path):
    assert findings(path.read_text(encoding="utf-8"), path.name) == GOLDEN["fixtures"][path.name]


@pytest.mark.parametrize("examples, seed, repeats", GENERATED)
def test_a_generated_skill_has_the_findings_of_the_quadratic_linter(examples, seed, repeats):
    name = f"generated_{examples}_{seed}_{repeats}.yaml"
    assert digest(findings(generated_skill(examples, seed, repeats), name)) == GOLDEN["generated"][name]


VALUES = [True, False, 1, 0, 1.0, 0.0, "1", "a", None, [1], [True], (1,), b"\x01", {1}, frozenset({True}),
          bytearray(b"\x01"), float("nan")]


def random_item(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth < 2 and roll < 0.25:
        return {rng.choice(["q", "a", 1, True]): random_item(rng, depth + 1) for _ in range(rng.randint(0, 2))}
    if depth < 2 and roll < 0.4:
        return [random_item(rng, depth + 1) for _ in range(rng.randint(0, 2))]
    return rng.choice(VALUES)


def test_seed_examples_repeat_exactly_when_jsonschema_and_python_say_so():
    """The hashed uniqueness check against the two comparisons it stands for: jsonschema's `uniq`
    (True is not 1, a list equals a tuple) and Python's `==` (which names the repeated example), on
    lists of mappings (seed examples) holding every kind of YAML value, and on other lists."""
    from jsonschema._utils import uniq

    from lab_tui.seeds.schema import _repeat

    rng = random.Random("unique items")
    for _ in range(3000):
        items = [{"answer": random_item(rng)} if rng.random() < 0.9 else random_item(rng)
                 for _ in range(rng.randint(0, 6))]
        assert (_repeat(items, strict=True) is None) == uniq(items), items
        first = next(((earlier, later) for later, item in enumerate(items) for earlier in range(later)
                      if items[earlier] == item), None)
        assert _repeat(items, strict=False) == first, items
