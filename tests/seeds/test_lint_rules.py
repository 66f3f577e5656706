"""Every lint rule with a case that trips it and a case that passes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from lab_tui.resources import example_skill_path
from lab_tui.seeds import apply_fix, dump_skill, lint_path, lint_skill, lint_text, load_skill

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"


@pytest.fixture
def clean():
    return load_skill(example_skill_path()).skill


def rules(findings):
    return {f.rule for f in findings}


def test_bundled_example_is_clean(clean):
    assert [f for f in lint_skill(clean) if f.severity != "info"] == []


def edited(skill, index, **fields):
    skill = copy.deepcopy(skill)
    for name, value in fields.items():
        setattr(skill.examples[index], name, value)
    return skill


CASES = [
    ("context/vague-task", lambda s: setattr(s, "task_description", "Emails.") or s),
    ("context/mixed-grounding", lambda s: edited(s, 0, context=None)),
    ("input/placeholder", lambda s: edited(s, 0, question="Write an email to <RECIPIENT NAME> about Q2.")),
    ("input/keyword-question", lambda s: edited(s, 0, question="Q2 email")),
    ("input/copied-from-context", lambda s: edited(s, 3, question="Patient satisfaction score: 4.6 out of 5")),
    ("output/truncated", lambda s: edited(s, 1, answer="Subject: Q3\n\nHi team, ARR grew and")),
    ("output/restates-question", lambda s: edited(s, 3, answer=s.examples[3].question)),
    ("output/unbalanced-fence", lambda s: edited(s, 1, answer="Here is the data:\n```\nARR: $126M\n")),
    ("output/format-ignored", lambda s: edited(s, 4, answer="Regions grew in general.")),
    ("ambiguity/dangling-reference", lambda s: edited(s, 0, context=None, question="Summarise this report for staff")),
    ("ambiguity/several-questions", lambda s: edited(s, 0, question="How did we do? And what about margins?")),
    ("ambiguity/hedging", lambda s: edited(s, 0, answer="It depends on what you mean by results.")),
    ("diversity/duplicate-context", lambda s: edited(s, 1, context=s.examples[0].context)),
    ("diversity/near-duplicate-question",
     lambda s: edited(s, 1, question=s.examples[0].question.replace("Draft", "Write"))),
    ("diversity/same-opening", lambda s: [setattr(e, "question", "Write an email " + e.question) for e in s.examples] and s),
    ("diversity/same-length", lambda s: [setattr(e, "answer", f"Answer number {i} is exactly this long here.")
                                         for i, e in enumerate(s.examples)] and s),
    ("budget/too-many-words", lambda s: edited(s, 0, context="Revenue grew. " * 1200)),
]


@pytest.mark.parametrize("rule,make", CASES, ids=[c[0] for c in CASES])
def test_rule_trips_on_a_bad_example_and_not_on_the_clean_skill(rule, make, clean):
    assert rule not in rules(lint_skill(clean))
    bad = make(copy.deepcopy(clean))
    findings = [f for f in lint_skill(bad) if f.rule == rule]
    assert findings, f"{rule} did not trip"
    assert all(f.message and f.severity in ("warning", "info", "error") for f in findings)


def test_example_too_long_for_the_teacher_uses_the_configured_limit(clean):
    assert "budget/example-too-long" not in rules(lint_skill(clean, token_limit=4096))
    tight = [f for f in lint_skill(clean, token_limit=50) if f.rule == "budget/example-too-long"]
    assert tight and tight[0].example is not None and tight[0].line


def test_finding_is_located_on_the_field_line(clean):
    bad = edited(clean, 2, question="Q3 email")
    [finding] = [f for f in lint_skill(bad) if f.rule == "input/keyword-question"]
    line = dump_skill(bad).splitlines()[finding.line - 1]
    assert finding.example == 2 and finding.field == "question" and line.strip().startswith("- question") is False
    assert "question:" in line


SCHEMA_CASES = [
    ("schema/too-few-examples", lambda t: t.split("  - context: |\n      Lumen")[0]),
    ("schema/unknown-key", lambda t: t.replace("created_by: lab-tui", "created_by: lab-tui\ndomain: finance")),
    ("schema/type", lambda t: t.replace("question: >-\n      Give me a three-bullet highlights section I can paste into our Q4 newsletter email to\n      clinic staff.", "question: Yes")),
    ("schema/required", lambda t: t.replace("created_by: lab-tui\n", "")),
    ("schema/version", lambda t: t.replace("version: 3", "version: 4")),
    ("yaml/trailing-spaces", lambda t: t.replace("created_by: lab-tui", "created_by: lab-tui   ")),
    ("yaml/new-line-at-end-of-file", lambda t: t.rstrip("\n")),
    ("yaml/empty-lines", lambda t: t + "\n\n"),
]


@pytest.mark.parametrize("rule,make", SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_and_yamllint_rules_are_errors_with_a_line(rule, make):
    text = example_skill_path().read_text()
    assert rule not in rules(lint_text(text, "qna.yaml"))
    bad = make(text)
    assert bad != text
    findings = [f for f in lint_text(bad, "qna.yaml") if f.rule == rule]
    assert findings and all(f.severity == "error" and f.line for f in findings)


def test_exact_duplicate_example_is_a_schema_error(clean):
    bad = copy.deepcopy(clean)
    bad.examples.append(bad.examples[0].copy())
    assert "schema/duplicate-example" in rules(lint_skill(bad))


def test_real_fixtures_duplicated_contexts_and_near_identical_questions_are_found():
    findings = lint_path(FIXTURES / "compositional_skills__grounded__linguistics__inclusion.yaml")
    assert "diversity/duplicate-context" in rules(findings)
    assert "diversity/near-duplicate-question" in rules(findings)
    v1 = lint_path(FIXTURES / "hist_v1__extraction__information__named_entities__technology__product.yaml")
    assert {"diversity/duplicate-context", "diversity/duplicate-question", "schema/old-version"} <= rules(v1)


def test_mechanical_fixes_clear_their_findings():
    path = FIXTURES / "hist_v3ctx__grounded__linguistics__inclusion__racial_bias.yaml"
    for rule in ("yaml/trailing-spaces", "yaml/new-line-at-end-of-file"):
        skill = load_skill(path).skill
        finding = next(f for f in lint_skill(skill) if f.rule == rule)
        skill = apply_fix(skill, finding)
        assert rule not in rules(lint_skill(skill))


def test_upgrade_fix_writes_version_3():
    skill = load_skill(FIXTURES / "hist_v2__miscellaneous_unknown__banking.yaml").skill
    finding = next(f for f in lint_skill(skill) if f.rule == "schema/old-version")
    upgraded = apply_fix(skill, finding)
    assert "schema/old-version" not in rules(lint_skill(upgraded))
    assert dump_skill(upgraded).startswith("version: 3")
