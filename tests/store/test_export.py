"""Export records and the `lab-tui export` command on hand-built databases."""

from __future__ import annotations

import json

import pytest

from lab_tui.cli import main
from lab_tui.store.export import SYSTEM_PROMPTS, export_records, to_jsonl
from lab_tui.store.queries import UnknownRunError


@pytest.fixture
def run_db(builder):
    """One run with a pair in every review status, two judge-filtered pairs, and another run's pair."""
    builder.run("run1")
    builder.run("run2")
    builder.pair("run1", "acc", status="accepted", reviewer="ana", note="good")
    builder.pair("run1", "rej", status="rejected", reviewer="bo")
    builder.pair("run1", "pen")
    builder.pair("run1", "skp", status="skipped", reviewer="ana")
    builder.pair("run1", "f-pen", outcome="filtered")
    builder.pair("run1", "f-acc", outcome="filtered", status="accepted", reviewer="ana")
    builder.pair("run2", "other", status="accepted")
    return builder


def ids(db, **kwargs) -> list[str]:
    return [item["id"] for item in export_records(db, "run1", **kwargs)]


@pytest.mark.parametrize(
    ("status", "include_filtered", "expected"),
    [
        ("accepted", False, ["acc"]),
        ("rejected", False, ["rej"]),
        ("pending", False, ["pen"]),
        ("all", False, ["acc", "rej", "pen", "skp"]),
        ("accepted", True, ["acc", "f-acc"]),
        ("pending", True, ["pen", "f-pen"]),
        ("all", True, ["acc", "rej", "pen", "skp", "f-pen", "f-acc"]),
    ],
)
def test_status_choices_and_include_filtered(run_db, status, include_filtered, expected):
    assert ids(run_db.db, status=status, include_filtered=include_filtered) == expected


def test_default_status_is_accepted(run_db):
    assert ids(run_db.db) == ["acc"]


def test_record_shape_and_metadata(run_db):
    (record,) = export_records(run_db.db, "run1")
    assert record["messages"] == [
        {"role": "system", "content": SYSTEM_PROMPTS["default"]},
        {"role": "user", "content": "Context of acc\n\nQuestion of acc?"},
        {"role": "assistant", "content": "Response of acc."},
    ]
    assert record["filtered"] is False
    metadata = json.loads(record["metadata"])
    assert metadata["run_id"] == "run1"
    assert metadata["pair_id"] == "acc"
    assert metadata["seed_index"] == 1
    assert metadata["context"] == "Context of acc"
    assert metadata["question"] == "Question of acc?"
    assert metadata["score"] == 3.0
    assert [(j["label"], j["score"], j["explanation"]) for j in metadata["judges"]] == [
        ("question judge", 1.0, "answerable"), ("pair judge", 3.0, "grounded")]
    assert (metadata["review_status"], metadata["reviewer"], metadata["note"]) == ("accepted", "ana", "good")
    assert metadata["teacher_model"] == "openai/teacher-x"
    assert "SECRET_VAR" not in json.dumps(record) and "api_base" not in record["metadata"]


def test_filtered_pairs_are_marked(run_db):
    records = {item["id"]: item for item in export_records(run_db.db, "run1", status="all", include_filtered=True)}
    assert records["f-pen"]["filtered"] is True
    assert json.loads(records["f-pen"]["metadata"])["filtered"] is True
    assert records["pen"]["filtered"] is False


def test_edited_text_wins(builder):
    builder.run("r")
    builder.pair("r", "p", status="accepted", edited_response="Better response.", edited_question="Better question?")
    (record,) = export_records(builder.db, "r")
    assert record["messages"][1]["content"] == "Context of p\n\nBetter question?"
    assert record["messages"][2]["content"] == "Better response."
    metadata = json.loads(record["metadata"])
    assert metadata["response_edited"] and metadata["question_edited"]
    assert metadata["original_response"] == "Response of p."
    assert metadata["question"] == "Better question?"


def test_a_freeform_pair_has_no_context_and_its_user_turn_is_the_question(builder):
    builder.run("r")
    builder.pair("r", "p", status="accepted", context=None, user_turn="Question of p?")
    builder.pair("r", "q", status="accepted", context=None, user_turn="Question of q?",
                 edited_question="A better question?")
    first, second = export_records(builder.db, "r")
    assert first["messages"][1]["content"] == "Question of p?"
    assert json.loads(first["metadata"])["context"] is None
    assert second["messages"][1]["content"] == "A better question?"


def test_unknown_run_and_unknown_status(run_db):
    with pytest.raises(UnknownRunError):
        list(export_records(run_db.db, "nope"))
    with pytest.raises(ValueError, match="status"):
        list(export_records(run_db.db, "run1", status="skipped"))


def test_text_is_written_literally(builder):
    tricky = 'Ünïcode "quotes" [bold]markup[/bold] \x1b[31mred\x1b[0m line\u2028sep\nnew line'
    builder.run("r")
    builder.pair("r", "p", status="accepted", response=tricky)
    text = to_jsonl(export_records(builder.db, "r"))
    assert text.count("\n") == 1 and len(text.splitlines()) == 1
    assert "Ünïcode" in text and "\\u001b" in text and "\x1b" not in text
    assert json.loads(text)["messages"][2]["content"] == tricky


def test_command_writes_file(run_db, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    code = main(["export", "--run", "run1", "--status", "all", "--format", "jsonl", "-o", str(out), "--db", str(run_db.path)])
    assert code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["acc", "rej", "pen", "skp"]
    assert "wrote 4 record(s)" in capsys.readouterr().err
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".tmp")]


def test_command_to_stdout_with_filtered(run_db, capsys):
    code = main(["export", "--run", "run1", "--include-filtered", "--format", "lab", "-o", "-", "--db", str(run_db.path)])
    assert code == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(item["id"], item["filtered"]) for item in records] == [("acc", False), ("f-acc", True)]


def test_command_unknown_run_exits_1(run_db, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert main(["export", "--run", "nope", "-o", str(out), "--db", str(run_db.path)]) == 1
    assert "no run with id 'nope'" in capsys.readouterr().err
    assert not out.exists()


def test_command_missing_database_exits_1(tmp_path, capsys):
    path = tmp_path / "missing.db"
    assert main(["export", "--run", "r", "-o", "-", "--db", str(path)]) == 1
    assert "no database" in capsys.readouterr().err
    assert not path.exists()


def test_command_rejects_other_formats_and_statuses(run_db):
    assert main(["export", "--run", "run1", "--format", "csv", "-o", "-", "--db", str(run_db.path)]) == 2
    assert main(["export", "--run", "run1", "--status", "skipped", "-o", "-", "--db", str(run_db.path)]) == 2
