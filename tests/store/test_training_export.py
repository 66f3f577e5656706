"""The training export: InstructLab's record shape, system prompts, several runs, sampling, header, recipe."""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

from lab_tui.cli import main
from lab_tui.store.export import (SYSTEM_PROMPTS, build_export, header_path, recipe_path, sample_per_skill,
                                  exported_pairs, system_prompt)

ILAB_KEYS = {"id", "messages", "metadata", "unmask"}
"""`ALLOWED_COLS` of instructlab-sdg's datamixing.py: the columns its mixed training file keeps."""


def ilab_record() -> dict:
    """A record as instructlab-sdg 0.8 writes it into skills_train_msgs_*.jsonl (datamixing.py:
    `_convert_to_leaf_node_messages`, then `_sample_ds` moves every other column into metadata)."""
    return {
        "messages": [{"content": SYSTEM_PROMPTS["granite"], "role": "system"},
                     {"content": "Rewrite this sentence politely: give me the report.", "role": "user"},
                     {"content": "Could you please send me the report?", "role": "assistant"}],
        "id": str(uuid.uuid4()),
        "unmask": False,
        "metadata": json.dumps({"task_description": "Polite rewriting", "seed_question": "Rewrite: do it.",
                                "seed_response": "Could you do it?", "leaf_node_type": "freeform_skill",
                                "leaf_node_path": "compositional_skills_writing_polite", "question": "q",
                                "response": "r", "evaluation": "good", "score": "3"}),
    }


@pytest.fixture
def two_skills(builder):
    """Run g1 and g2 of a grounded skill, run f1 of a freeform one (no context), pairs in every state."""
    snapshot = json.dumps({"task_description": "Answer from the memo",
                           "examples": [{"context": "Memo 0", "question": "Q0?", "answer": "A0."},
                                        {"context": "Memo 1", "question": "Q1?", "answer": "A1."}]})
    builder.run("g1", skill_path="/t/grounded/qna.yaml", skill_snapshot=snapshot)
    builder.run("g2", skill_path="/t/grounded/qna.yaml", skill_snapshot=snapshot)
    builder.run("f1", skill_path="/t/freeform/qna.yaml",
                skill_snapshot=json.dumps({"task_description": "Write haiku", "examples": []}))
    for index in range(6):
        builder.pair("g1", f"g1-{index}", status="accepted", reviewer="ana")
    builder.pair("g2", "g2-0", status="accepted", reviewer="bo", edited_question="Sharper question?",
                 edited_response="Sharper answer.", note="tightened")
    builder.pair("g2", "g2-pending")
    for index in range(4):
        builder.pair("f1", f"f1-{index}", status="accepted", context=None, user_turn=f"Question of f1-{index}?")
    return builder


def test_messages_records_have_exactly_instructlabs_keys_and_types(two_skills):
    export = build_export(two_skills.db, ["g1", "f1"])
    theirs = ilab_record()
    for ours in export.records:
        assert set(ours) == set(theirs) == ILAB_KEYS
        for key in ILAB_KEYS:
            assert type(ours[key]) is type(theirs[key]), key
        assert ours["unmask"] is False
        assert [set(m) for m in ours["messages"]] == [{"role", "content"}] * 3
        assert [m["role"] for m in ours["messages"]] == ["system", "user", "assistant"]
        assert isinstance(json.loads(ours["metadata"]), dict)


def test_metadata_carries_lab_tuis_provenance(two_skills):
    records = {r["id"]: r for r in build_export(two_skills.db, ["g2"], status="all").records}
    edited = json.loads(records["g2-0"]["metadata"])
    assert (edited["skill_path"], edited["run_id"], edited["pair_id"], edited["seed_index"]) == (
        "/t/grounded/qna.yaml", "g2", "g2-0", 1)
    assert (edited["seed_context"], edited["seed_question"], edited["seed_response"]) == ("Memo 1", "Q1?", "A1.")
    assert edited["task_description"] == "Answer from the memo" and edited["leaf_node_type"] == "grounded_skill"
    assert edited["score"] == 3.0 and [j["judge"] for j in edited["judges"]] == ["eval_questions", "evaluate_qa_pair"]
    assert (edited["reviewer"], edited["review_status"], edited["note"]) == ("bo", "accepted", "tightened")
    assert edited["edits"] == {"question": {"original": "Question of g2-0?", "edited": "Sharper question?"},
                               "response": {"original": "Response of g2-0.", "edited": "Sharper answer."}}
    assert records["g2-0"]["messages"][1]["content"] == "Context of g2-0\n\nSharper question?"
    assert records["g2-0"]["messages"][2]["content"] == "Sharper answer."
    assert json.loads(records["g2-pending"]["metadata"])["edits"] == {}
    assert "SECRET_VAR" not in json.dumps(records) and "api_base" not in json.dumps(records)


def test_a_freeform_pair_has_the_question_alone_as_its_user_turn(two_skills):
    (first, *_) = build_export(two_skills.db, ["f1"]).records
    assert first["messages"][1]["content"] == "Question of f1-0?"
    metadata = json.loads(first["metadata"])
    assert metadata["leaf_node_type"] == "freeform_skill" and metadata["context"] is None


def test_system_prompts_follow_instructlabs_families_and_student_model(tmp_path):
    assert system_prompt("granite").text.startswith("I am a Red Hat® Instruct Model") and "granite-3.0" in \
        system_prompt("granite").text
    assert system_prompt("default").text.startswith("I am an advanced AI language model")
    model = tmp_path / "student"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "granite", "max_position_embeddings": 131072}))
    assert system_prompt(str(model)).choice == "granite-3.1"
    (model / "config.json").write_text(json.dumps({"model_type": "mistral"}))
    assert system_prompt(str(model)) == system_prompt("default")
    assert system_prompt("You are a careful assistant.").choice == "custom"
    with pytest.raises(ValueError, match="empty"):
        system_prompt("  ")


def test_several_runs_go_to_one_file_in_the_order_given(two_skills):
    ids = [r["id"] for r in build_export(two_skills.db, ["f1", "g2", "f1"]).records]
    assert ids == ["f1-0", "f1-1", "f1-2", "f1-3", "g2-0"]


def test_max_per_skill_samples_the_same_pairs_for_the_same_seed(two_skills):
    items = exported_pairs(two_skills.db, ["g1", "g2", "f1"])
    first = [i.pair.id for i in sample_per_skill(items, 3, seed=7)]
    assert [i.pair.id for i in sample_per_skill(items, 3, seed=7)] == first
    assert sum(i.startswith("g") for i in first) == 3 and sum(i.startswith("f") for i in first) == 3
    assert first == [i.pair.id for i in items if i.pair.id in first]  # order kept
    other_seeds = {tuple(i.pair.id for i in sample_per_skill(items, 3, seed=s)) for s in range(8)}
    assert len(other_seeds) > 1
    grounded_only = [i.pair.id for i in sample_per_skill(exported_pairs(two_skills.db, ["g1", "g2"]), 3, seed=7)]
    assert grounded_only == [i for i in first if i.startswith("g")]  # another skill's runs change nothing


def test_command_writes_the_file_its_header_and_a_recipe_instructlab_reads(two_skills, tmp_path, capsys):
    out = tmp_path / "skills_train_msgs.jsonl"
    assert main(["export", "--run", "g1", "--run", "f1", "--system-prompt", "granite", "--max-per-skill", "2",
                 "--seed", "3", "-o", str(out), "--db", str(two_skills.path)]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 4 and all(set(r) == ILAB_KEYS for r in records)
    assert {r["messages"][0]["content"] for r in records} == {SYSTEM_PROMPTS["granite"]}
    header = json.loads(header_path(out).read_text())
    assert header["system_prompt"] == {"choice": "granite", "text": SYSTEM_PROMPTS["granite"]}
    assert (header["format"], header["records"], header["runs"], header["file"]) == (
        "messages", 4, ["g1", "f1"], out.name)
    assert (header["max_per_skill"], header["seed"]) == (2, 3)
    assert header["skills"] == [{"skill": "/t/grounded/qna.yaml", "pairs": 6, "exported": 2},
                                {"skill": "/t/freeform/qna.yaml", "pairs": 4, "exported": 2}]
    recipe = yaml.safe_load(recipe_path(out).read_text())
    assert recipe == {"datasets": [{"path": out.name, "sampling_size": 1.0}],
                      "metadata": {"sys_prompt": SYSTEM_PROMPTS["granite"]}}
    assert "wrote 4 record(s)" in capsys.readouterr().err


def test_lab_format_and_its_jsonl_alias_keep_the_rich_records(two_skills, tmp_path):
    for name in ("lab", "jsonl"):
        out = tmp_path / f"{name}.jsonl"
        assert main(["export", "--run", "g2", "--status", "all", "--format", name, "-o", str(out),
                     "--db", str(two_skills.path)]) == 0
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert [set(r) for r in records] == [{"id", "messages", "metadata", "filtered"}] * 2
        assert not recipe_path(out).exists() and json.loads(header_path(out).read_text())["format"] == "lab"


def test_command_usage_errors(two_skills, capsys):
    db = str(two_skills.path)
    assert main(["export", "--run", "g1", "--max-per-skill", "0", "-o", "-", "--db", db]) == 2
    assert main(["export", "--run", "g1", "--system-prompt", " ", "-o", "-", "--db", db]) == 2
    assert "system prompt is empty" in capsys.readouterr().err
    assert main(["export", "--run", "g1", "--run", "nope", "-o", "-", "--db", db]) == 1
    captured = capsys.readouterr()
    assert "no run with id 'nope'" in captured.err and captured.out == ""


def test_an_output_folder_that_does_not_exist_is_a_clear_error(two_skills, tmp_path, capsys):
    out = tmp_path / "missing" / "train.jsonl"
    assert main(["export", "--run", "g1", "-o", str(out), "--db", str(two_skills.path)]) == 1
    assert "cannot write" in capsys.readouterr().err and not out.parent.exists()


def test_the_export_loads_with_datasets_beside_instructlabs_file_and_through_its_recipe(two_skills, tmp_path):
    datasets = pytest.importorskip("datasets")
    ours = tmp_path / "lab.jsonl"
    assert main(["export", "--run", "g1", "--run", "f1", "--run", "g2", "--status", "all", "-o", str(ours),
                 "--db", str(two_skills.path)]) == 0
    theirs = tmp_path / "skills_train_msgs_ilab.jsonl"
    theirs.write_text(json.dumps(ilab_record()) + "\n")
    both = datasets.load_dataset("json", data_files=[str(theirs), str(ours)], split="train",
                                 cache_dir=str(tmp_path / "hf-cache"))
    assert set(both.column_names) == ILAB_KEYS and len(both) == 1 + 12
    assert both[1]["unmask"] is False and json.loads(both[1]["metadata"])["source"] == "lab-tui"
    recipe = yaml.safe_load(recipe_path(ours).read_text())
    (listing,) = recipe["datasets"]
    mixed = datasets.load_dataset("json", data_files=str(tmp_path / listing["path"]), split="train",
                                  cache_dir=str(tmp_path / "hf-cache"))
    assert set(mixed.column_names) == ILAB_KEYS  # what ilab's Recipe._create_mixed_dataset asserts
