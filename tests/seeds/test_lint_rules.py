"""Every lint rule with a case that trips it and a case that passes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lab_tui.resources import example_skill_path
from lab_tui.seeds import Finding, apply_fix, dump_skill, lint_path, lint_skill, lint_text, load_skill, parse_skill_text

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
    ("output/broken-list", lambda s: edited(s, 1, answer="Three steps:\n1. Read the figures.\n2. Draft.\n4. Send.")),
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
    bad.examples.append(bad.examples[1].copy())
    [finding] = [f for f in lint_skill(bad) if f.rule == "schema/duplicate-example"]
    last = len(bad.examples)
    assert f"Seed examples 2 and {last} are exactly the same" in finding.message  # it used to say which nowhere
    lines = dump_skill(bad).splitlines()
    starts = [number for number, line in enumerate(lines, 1) if line.startswith("  - ")]
    assert finding.example == last - 1 and finding.line == starts[-1]


def test_control_characters_in_a_seed_are_flagged(clean):
    """`p` on a pair holding an escape sequence wrote it into qna.yaml and lint said "No findings"."""
    bad = edited(clean, 2, answer="Fine text \x1b]0;pwned\x07 and more.\n")
    [finding] = [f for f in lint_skill(bad) if f.rule == "text/control-character"]
    assert (finding.example, finding.field, finding.severity) == (2, "answer", "warning")
    assert "U+001B" in finding.message and finding.line
    assert "text/control-character" not in rules(lint_skill(clean))


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


STYLE_FIXTURE = FIXTURES / "compositional_skills__linguistics__synonyms.yaml"


def test_quoted_multiline_value_is_flagged_and_the_block_style_fix_clears_only_it(clean):
    assert "yaml/block-style" not in rules(lint_skill(clean))
    text = STYLE_FIXTURE.read_text()
    first = next(f for f in lint_text(text, STYLE_FIXTURE) if f.rule == "yaml/block-style")
    assert (first.example, first.field, first.line) == (1, "answer", 8)
    fixed = apply_fix(text, first, STYLE_FIXTURE)
    assert fixed.splitlines()[7] == "  - answer: |"
    remaining = [f for f in lint_text(fixed, STYLE_FIXTURE) if f.rule == "yaml/block-style"]
    assert [f.example for f in remaining] == [2, 3, 4, 5]
    before = load_skill(STYLE_FIXTURE).skill
    assert [e.answer for e in parse_skill_text(fixed).skill.examples] == [e.answer for e in before.examples]


def test_key_order_is_one_finding_and_its_fix_reorders_without_changing_content(clean):
    assert "yaml/key-order" not in rules(lint_skill(clean))
    skill = load_skill(FIXTURES / "compositional_skills__grounded__linguistics__writing__rewriting.yaml").skill
    [finding] = [f for f in lint_skill(skill) if f.rule == "yaml/key-order"]
    assert finding.line == 1
    fixed = apply_fix(skill, finding)
    assert "yaml/key-order" not in rules(lint_skill(fixed))
    text = dump_skill(fixed)
    assert text.startswith("version: 3\ntask_description:") and "  - context:" in text
    assert [(e.context, e.question, e.answer) for e in fixed.examples] == \
        [(e.context, e.question, e.answer) for e in skill.examples]


def test_apply_fix_on_text_returns_text_and_leaves_the_input_alone():
    path = FIXTURES / "hist_v3ctx__grounded__linguistics__inclusion__racial_bias.yaml"
    text = path.read_text()
    finding = next(f for f in lint_text(text, path) if f.rule == "yaml/trailing-spaces")
    fixed = apply_fix(text, finding, path)
    assert isinstance(fixed, str) and fixed != text and path.read_text() == text
    assert "yaml/trailing-spaces" not in rules(lint_text(fixed, path))
    with pytest.raises(ValueError):
        apply_fix(text, Finding("schema/type", "error", "no fix named"), path)


@pytest.mark.parametrize("task,missing", [
    ("Rewrite complex texts in an easier way", "for whom"),
    ("This skill helps the writer use more inclusive IT terminology.", "in what form"),
    ("Help the model understand the concept of installing operators", "for whom or in what form"),
])
def test_task_description_without_audience_or_form_is_info(task, missing, clean):
    assert "context/task-incomplete" not in rules(lint_skill(clean))
    skill = copy.deepcopy(clean)
    skill.task_description = task
    [finding] = [f for f in lint_skill(skill) if f.rule == "context/task-incomplete"]
    assert finding.severity == "info" and f"say {missing} (" in finding.message and finding.line == 2


def test_skill_under_a_grounded_folder_without_any_context_is_flagged(clean, tmp_path):
    freeform = copy.deepcopy(clean)
    for example in freeform.examples:
        example.context = None
    freeform.path = tmp_path / "compositional_skills" / "writing" / "freeform" / "qna.yaml"
    assert "context/missing-context" not in rules(lint_skill(freeform))
    freeform.path = tmp_path / "compositional_skills" / "grounded" / "email" / "qna.yaml"
    assert "context/missing-context" in rules(lint_skill(freeform))
    clean.path = freeform.path
    assert "context/missing-context" not in rules(lint_skill(clean))


def test_empty_answer_is_a_quality_warning_and_a_schema_error(clean):
    assert not rules(lint_skill(clean)) & {"output/empty", "schema/empty-value"}
    found = lint_skill(edited(clean, 2, answer=""))
    assert {(f.rule, f.severity, f.example) for f in found} >= {("output/empty", "warning", 2),
                                                                 ("schema/empty-value", "error", 2)}


@pytest.mark.parametrize("question,good,bad", [
    ("Give the totals as JSON.", 'Here they are:\n{"revenue": 48.2, "margin": 0.44}', "Revenue was 48.2 and margin 44%."),
    ("Put the regions in a table.", "| Region | Growth |\n|---|---|\n| EU | -5% |", "Europe fell by five percent."),
    ("List the three highlights.", "- Revenue up\n- Margin up\n- Three stores", "Revenue, margin and stores all grew."),
])
def test_requested_format_must_be_followed(question, good, bad, clean):
    assert "output/format-ignored" not in rules(lint_skill(edited(clean, 0, question=question, answer=good)))
    [finding] = [f for f in lint_skill(edited(clean, 0, question=question, answer=bad))
                 if f.rule == "output/format-ignored"]
    assert (finding.example, finding.field) == (0, "answer") and finding.line


def test_jsonl_records_that_are_not_seed_examples_are_located_by_line(tmp_path):
    good = {"task_description": "Write emails", "seed_context": "c", "seed_question": "q?", "seed_response": "a"}
    path = tmp_path / "seeds.jsonl"
    path.write_text(json.dumps(good) + "\n")
    assert not [f for f in load_skill(path).findings if f.rule.startswith("jsonl/")]
    path.write_text("\n".join([json.dumps(good), "[1, 2]", json.dumps({"seed_question": "q?"}),
                               json.dumps({**good, "domain": "finance"})]) + "\n")
    found = {(f.rule, f.line) for f in load_skill(path).findings}
    assert found == {("jsonl/not-an-object", 2), ("jsonl/missing-key", 3), ("jsonl/unknown-key", 4)}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "task_description": "Write poems"}) + "\n")
    assert [(f.rule, f.line, f.example) for f in load_skill(path).findings] == [("jsonl/task-differs", 2, 1)]


def test_every_finding_on_the_fixtures_has_a_line():
    for path in sorted(FIXTURES.glob("*.yaml")):
        assert [f.rule for f in lint_path(path) if not f.line] == [], path.name


def test_yamllint_disable_file_comment_is_honoured():
    text = example_skill_path().read_text().replace("created_by: lab-tui", "created_by: lab-tui  ")
    assert "yaml/trailing-spaces" in rules(lint_text(text, "qna.yaml"))
    assert "yaml/trailing-spaces" not in rules(lint_text("# yamllint disable-file\n" + text, "qna.yaml"))


@pytest.mark.parametrize("answer", [
    "1. Read.\n2. Draft.\n3. Send.",
    "1. Plan\n   1. Read\n   2. Note\n2. Write",
    "Q1:\n1. Up\n2. Down\n\nQ2:\n1. Flat",
    "```\n1. a\n3. b\n```\nDone.",
])
def test_correctly_numbered_lists_pass(answer, clean):
    assert "output/broken-list" not in rules(lint_skill(edited(clean, 1, answer=answer)))


@pytest.mark.parametrize("answer", [
    "Use an f-string:\n```python\nprint(f\"Hello {name}\")\n```\nIt fills in the name.",
    "Call `List<String>` in Java, or `{value}` in a template.",
])
def test_placeholders_inside_code_are_real_syntax(answer, clean):
    assert "input/placeholder" not in rules(lint_skill(edited(clean, 1, answer=answer)))
    assert "input/placeholder" in rules(lint_skill(edited(clean, 1, answer=answer + " Thanks, {name}")))
