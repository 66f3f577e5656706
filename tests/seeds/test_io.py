from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from lab_tui.resources import example_skill_path
from lab_tui.seeds import SeedExample, dump_skill, load_skill, parse_skill_text, save_skill, upgrade_to_v3

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"

VERSION_3 = sorted(p for p in FIXTURES.glob("*.yaml")
                   if not p.name.startswith(("hist_bad", "docs__")) and yaml.safe_load(p.read_text()).get("version") == 3)


@pytest.mark.parametrize("path", VERSION_3, ids=lambda p: p.name)
def test_unedited_round_trip_is_byte_identical(path, tmp_path):
    copy = tmp_path / "qna.yaml"
    shutil.copy(path, copy)
    skill = load_skill(copy).skill
    save_skill(skill)
    assert copy.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("path", VERSION_3, ids=lambda p: p.name)
def test_edit_changes_only_the_edited_field(path, tmp_path):
    skill = load_skill(path).skill
    skill.examples[1].answer = "A brand new answer\nover two lines.\n"
    edited = dump_skill(skill)
    before, after = yaml.safe_load(path.read_text()), yaml.safe_load(edited)
    assert after["seed_examples"][1]["answer"] == "A brand new answer\nover two lines.\n"
    after["seed_examples"][1]["answer"] = before["seed_examples"][1]["answer"]
    assert after == before
    untouched = [line for line in path.read_text().splitlines() if "answer" not in line]
    assert sum(line in edited.splitlines() for line in untouched) >= len(untouched) * 0.8


def test_structural_edit_dumps_block_scalars_in_key_order(tmp_path):
    skill = load_skill(example_skill_path()).skill
    skill.examples.append(skill.examples[0].copy())
    skill.examples[-1].question = "A new question?"
    text = dump_skill(skill)
    assert text.index("version:") < text.index("task_description:") < text.index("seed_examples:")
    assert "answer: |" in text
    assert len(yaml.safe_load(text)["seed_examples"]) == len(skill.examples)


def test_save_is_atomic_and_keeps_a_backup(tmp_path):
    target = tmp_path / "qna.yaml"
    shutil.copy(example_skill_path(), target)
    original = target.read_text()
    skill = load_skill(target).skill
    skill.task_description = "Write emails."
    save_skill(skill)
    assert (tmp_path / "qna.yaml.bak").read_text() == original
    assert load_skill(target).skill.task_description == "Write emails."
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("name", ["hist_v1__writing__freeform__social_media__linkedin__bio.yaml",
                                  "hist_v2__miscellaneous_unknown__banking.yaml"])
def test_older_versions_load_and_upgrade_to_v3(name, tmp_path):
    result = load_skill(FIXTURES / name)
    assert result.skill is not None and result.skill.version in (None, 2)
    assert [(f.rule, f.fix) for f in result.findings] == [("schema/old-version", "upgrade-to-v3")]
    assert not load_skill(FIXTURES / "compositional_skills__linguistics__synonyms.yaml").findings
    upgrade_to_v3(result.skill)
    save_skill(result.skill, tmp_path / "qna.yaml")
    data = yaml.safe_load((tmp_path / "qna.yaml").read_text())
    assert data["version"] == 3
    assert len(data["seed_examples"]) == len(result.skill.examples)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("hist_bad*.yaml")), ids=lambda p: p.name)
def test_file_that_is_not_yaml_is_reported_with_line_and_column(path):
    result = load_skill(path)
    assert result.skill is None
    [finding] = result.findings
    assert finding.rule == "yaml/syntax" and finding.severity == "error"
    assert finding.line and finding.column
    assert "not valid YAML" in finding.message


@pytest.mark.parametrize("text,rule", [
    ("- a\n- b\n", "schema/not-a-mapping"),
    ("version: 3\ntask_description: x\n", "schema/not-a-skill"),
    ("", "schema/empty"),
])
def test_not_a_skill_is_a_plain_finding(text, rule):
    result = parse_skill_text(text, Path("qna.yaml"))
    assert result.skill is None and result.findings[0].rule == rule


def test_knowledge_file_is_not_opened_as_a_skill():
    result = load_skill(FIXTURES / "docs__template_qna.yaml")
    assert result.skill is None and result.findings[0].rule == "schema/knowledge-not-skill"


def test_jsonl_seed_file_round_trips(tmp_path):
    records = [
        {"task_description": "Write emails", "seed_context": f"Revenue {i}", "seed_question": f"Question {i}?",
         "seed_response": f"Answer {i}."}
        for i in range(5)
    ]
    path = tmp_path / "seeds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    skill = load_skill(path).skill
    assert skill.format == "jsonl" and skill.task_description == "Write emails"
    assert [e.context for e in skill.examples] == [f"Revenue {i}" for i in range(5)]
    save_skill(skill)
    assert [json.loads(line) for line in path.read_text().splitlines()] == records


def test_jsonl_bad_line_is_reported_and_the_rest_still_loads(tmp_path):
    path = tmp_path / "seeds.jsonl"
    good = json.dumps({"task_description": "t", "seed_context": "c", "seed_question": "q?", "seed_response": "a"})
    path.write_text(good + "\n{not json\n" + good + "\n")
    result = load_skill(path)
    assert len(result.skill.examples) == 2
    assert [(f.rule, f.line) for f in result.findings] == [("jsonl/syntax", 2)]


def test_unreadable_file_is_a_finding_not_a_crash(tmp_path):
    result = load_skill(tmp_path / "missing.yaml")
    assert result.skill is None and result.findings[0].rule == "file/unreadable"
    binary = tmp_path / "qna.yaml"
    binary.write_bytes(b"version: 3\ncreated_by: \xff\xfe\x00bad")
    [finding] = load_skill(binary).findings
    assert (finding.rule, finding.line, finding.column) == ("file/encoding", 2, 13)


@pytest.mark.parametrize("value", ["One line with a newline\n", "One line", "Two\nlines\n", "Ends open\nno newline",
                                   "  leading spaces\nsecond\n", "Trailing blank lines\n\n\n", "key: value # not yaml"])
def test_edits_in_place_read_back_exactly(value):
    path = FIXTURES / "compositional_skills__grounded__linguistics__inclusion.yaml"
    skill = load_skill(path).skill
    skill.examples[2].context = value
    skill.examples[3].answer = value
    text = dump_skill(skill)
    written = parse_skill_text(text).skill
    assert written.examples[2].context == value and written.examples[3].answer == value
    assert written.examples[0].context == skill.examples[0].context


LOADABLE = sorted(p for p in FIXTURES.glob("*.yaml") if load_skill(p).skill is not None)


@pytest.mark.parametrize("path", LOADABLE, ids=lambda p: p.name)
def test_a_full_dump_reads_back_as_the_same_skill_and_is_stable(path):
    skill = load_skill(path).skill
    skill.source_text = None
    upgrade_to_v3(skill)
    text = dump_skill(skill)
    again = parse_skill_text(text, path).skill
    assert (again.version, again.task_description, again.created_by) == (3, skill.task_description, skill.created_by)
    assert [(e.context, e.question, e.answer) for e in again.examples] == \
        [(e.context, e.question, e.answer) for e in skill.examples]
    assert dump_skill(again) == text


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """Lines removed from and added to `before`, as a diff shows them."""
    import difflib

    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


SUPERLATIVES = FIXTURES / "hist_v3ctx__grounded__linguistics__inclusion__superlatives.yaml"


def test_adding_an_example_adds_only_its_lines(tmp_path):
    """It used to re-dump the file: `---` dropped and every `>` block turned into a long `|` line."""
    path = tmp_path / "qna.yaml"
    shutil.copy(SUPERLATIVES, path)
    original = path.read_text()
    skill = load_skill(path).skill
    skill.examples.append(SeedExample(context="The team rockstar fixed it.", question="How might you reword this?",
                                      answer="The team expert fixed it.\nAvoid superlatives.\n"))
    save_skill(skill)
    written = path.read_text()
    assert changed_lines(original, written) == ([], [
        "  - context: The team rockstar fixed it.", "    question: How might you reword this?",
        "    answer: |", "      The team expert fixed it.", "      Avoid superlatives."])
    skill.examples.append(skill.examples[0].copy())  # a second save after the first is in place too
    skill.examples[-1].question = "Another question?"
    save_skill(skill)
    removed, added = changed_lines(written, path.read_text())
    assert removed == [] and added[1] == "    question: Another question?" and "answer: >-" not in added


def test_deleting_and_moving_examples_moves_their_own_lines(tmp_path):
    original = SUPERLATIVES.read_text()
    skill = load_skill(SUPERLATIVES).skill
    deleted = skill.examples.pop(1)
    lines = original.splitlines(keepends=True)
    assert deleted.context.startswith("Train your teams") and lines[18].startswith("  - context: Train your teams")
    assert lines[29].startswith("  - context: She has") and dump_skill(skill) == "".join(lines[:18] + lines[29:])
    skill = load_skill(SUPERLATIVES).skill
    skill.examples[0], skill.examples[1] = skill.examples[1], skill.examples[0]
    text = dump_skill(skill)
    assert sorted(text.splitlines()) == sorted(original.splitlines()) and text.startswith("---\n")
    assert parse_skill_text(text).skill.examples[0].context.startswith("Train your teams")


def test_editing_a_folded_answer_keeps_it_folded_and_other_fields_as_they_were():
    original = SUPERLATIVES.read_text()
    skill = load_skill(SUPERLATIVES).skill
    skill.examples[2].answer = skill.examples[2].answer.replace("senior automation", "senior test automation")
    skill.examples[2].question = "A shorter question?"
    text = dump_skill(skill)
    assert parse_skill_text(text).skill.examples[2].answer == skill.examples[2].answer
    removed, added = changed_lines(original, text)
    assert all(line in original for line in removed)
    assert "    question: A shorter question?" in added and "    answer: >-" not in removed
    assert len(added) <= 4


@pytest.mark.parametrize("name,removed,added", [
    ("hist_v2__miscellaneous_unknown__banking.yaml", ["version: 2"], ["version: 3"]),
    ("hist_v1__writing__freeform__social_media__linkedin__bio.yaml", [], ["version: 3"]),
])
def test_upgrading_changes_only_the_version_key(name, removed, added, tmp_path):
    """The upgrade dialog says only the version key changes: saving re-indented and re-quoted."""
    path = tmp_path / "qna.yaml"
    shutil.copy(FIXTURES / name, path)
    skill = load_skill(path).skill
    assert dump_skill(skill) == path.read_text()  # not upgraded: the file stays as it is
    upgrade_to_v3(skill)
    save_skill(skill)
    assert changed_lines((FIXTURES / name).read_text(), path.read_text()) == (removed, added)
    assert load_skill(path).skill.version == 3


def test_an_example_added_to_a_file_without_a_final_newline_is_in_place_and_exact():
    text = ("version: 3\ntask_description: Write haiku.\ncreated_by: me\nseed_examples:\n"
            "- question: One?\n  answer: A.\n# about two\n- question: Two?\n  answer: B.")
    skill = parse_skill_text(text).skill
    skill.examples.append(SeedExample(question="Three?", answer="C\nD\n"))
    written = dump_skill(skill)
    assert written.startswith(text + "\n- question: Three?\n  answer: |\n")
    assert parse_skill_text(written).skill.examples[-1].answer == "C\nD\n"
