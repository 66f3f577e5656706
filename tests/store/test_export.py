"""Export records and the `lab-tui export` command on hand-built databases."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from lab_tui.cli import main
from lab_tui.store.export import (FORMATS, SYSTEM_PROMPTS, ExportFormat, ExportTargetError, build_export,
                                  export_to_file, system_prompt, to_jsonl)
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


def lab_records(db, run_id: str, **options) -> list[dict]:
    return build_export(db, [run_id], format="lab", **options).records


def ids(db, **options) -> list[str]:
    return [item["id"] for item in lab_records(db, "run1", **options)]


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
    (record,) = lab_records(run_db.db, "run1")
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
    records = {item["id"]: item for item in lab_records(run_db.db, "run1", status="all", include_filtered=True)}
    assert records["f-pen"]["filtered"] is True
    assert json.loads(records["f-pen"]["metadata"])["filtered"] is True
    assert records["pen"]["filtered"] is False


def test_edited_text_wins(builder):
    builder.run("r")
    builder.pair("r", "p", status="accepted", edited_response="Better response.", edited_question="Better question?")
    (record,) = lab_records(builder.db, "r")
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
    first, second = lab_records(builder.db, "r")
    assert first["messages"][1]["content"] == "Question of p?"
    assert json.loads(first["metadata"])["context"] is None
    assert second["messages"][1]["content"] == "A better question?"


def test_unknown_run_and_unknown_status(run_db):
    with pytest.raises(UnknownRunError):
        lab_records(run_db.db, "nope")
    with pytest.raises(ValueError, match="status"):
        lab_records(run_db.db, "run1", status="skipped")


def test_text_is_written_literally(builder):
    tricky = 'Ünïcode "quotes" [bold]markup[/bold] \x1b[31mred\x1b[0m line\u2028sep\nnew line'
    builder.run("r")
    builder.pair("r", "p", status="accepted", response=tricky)
    text = to_jsonl(lab_records(builder.db, "r"))
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


@pytest.fixture
def one_pair(builder):
    builder.run("run1")
    builder.pair("run1", "acc", status="accepted")
    return builder


def export_args(db, out, *options) -> list[str]:
    return ["export", "--run", "run1", *options, "-o", str(out), "--db", str(db.path)]


def test_a_named_pipe_as_output_is_refused_before_the_database_is_read(tmp_path):
    """Issue 16: writing to a FIFO hung until something read it. Run as a process with a deadline, so a
    regression fails instead of hanging the suite."""
    fifo = tmp_path / "out.jsonl"
    os.mkfifo(fifo)
    missing_db = tmp_path / "no.db"
    done = subprocess.run([sys.executable, "-m", "lab_tui", "export", "--run", "r", "-o", str(fifo),
                           "--db", str(missing_db)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"cannot write {fifo}: it is a named pipe (FIFO); give the path of a regular file" in done.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode) and not missing_db.exists()


def test_a_named_pipe_where_the_header_or_recipe_goes_is_refused_too(one_pair, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    for beside in (tmp_path / "out.header.json", tmp_path / "out.recipe.yaml"):
        os.mkfifo(beside)
        assert main(export_args(one_pair, out)) == 1
        assert f"cannot write {beside} (written beside out.jsonl): it is a named pipe (FIFO)" in capsys.readouterr().err
        assert not out.exists()
        beside.unlink()


def test_a_named_pipe_where_no_file_of_the_format_goes_is_left_alone(one_pair, tmp_path, capsys):
    out, recipe = tmp_path / "out.jsonl", tmp_path / "out.recipe.yaml"
    os.mkfifo(recipe)
    assert main(export_args(one_pair, out, "--format", "lab")) == 0
    assert len(out.read_text().splitlines()) == 1 and stat.S_ISFIFO(recipe.stat().st_mode)


def test_a_device_socket_or_folder_as_output_is_refused_and_left_as_it_was(one_pair, tmp_path, capsys):
    targets = {"a folder": tmp_path / "folder.jsonl", "a socket": tmp_path / "socket.jsonl"}
    targets["a folder"].mkdir()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(targets["a socket"]))
    try:
        os.mknod(tmp_path / "device.jsonl", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # what /dev/null is
        targets["a character device"] = tmp_path / "device.jsonl"
    except PermissionError:
        pass  # no CAP_MKNOD here: the folder and the socket are non-regular files all the same
    (tmp_path / "link.jsonl").symlink_to(targets["a socket"])
    targets["a socket (through a symlink)"] = tmp_path / "link.jsonl"
    try:
        for kind, target in targets.items():
            before = target.lstat()
            assert main(export_args(one_pair, target)) == 1, kind
            assert f"it is {kind.split(' (')[0]}; give the path of a regular file" in capsys.readouterr().err
            assert (target.lstat().st_mode, target.lstat().st_ino) == (before.st_mode, before.st_ino)
    finally:
        listener.close()


def test_export_to_file_writes_the_records_and_the_files_beside_them(one_pair, tmp_path):
    """What the Review pane's export calls: the same export `lab-tui export -o` writes."""
    out = tmp_path / "out.jsonl"
    export, written = export_to_file(one_pair.db, ["run1"], out, format="messages", status="all",
                                     prompt=system_prompt("granite"))
    assert written == [out, tmp_path / "out.header.json", tmp_path / "out.recipe.yaml"]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["acc"] == [r["id"] for r in export.records]
    assert json.loads(written[1].read_text())["system_prompt"]["choice"] == "granite"
    os.mkfifo(tmp_path / "pipe.jsonl")
    with pytest.raises(ExportTargetError, match="named pipe"):
        export_to_file(one_pair.db, ["no such run"], tmp_path / "pipe.jsonl")


def test_a_format_added_to_the_table_is_offered_by_the_command_with_its_help(one_pair, tmp_path, monkeypatch, capsys):
    def ids_only(item, prompt):
        return {"id": item.pair.id, "question": item.pair.question}

    monkeypatch.setitem(FORMATS, "ids", ExportFormat("ids", ids_only, recipe=False, help="the ids and questions",
                                                     aliases=("short",)))
    assert main(["export", "--help"]) == 0
    assert "ids: the ids and questions (short is another name for ids)" in " ".join(capsys.readouterr().out.split())
    out = tmp_path / "out.jsonl"
    assert main(export_args(one_pair, out, "--format", "short")) == 0
    assert json.loads(out.read_text()) == {"id": "acc", "question": "Question of acc?"}
    assert json.loads((tmp_path / "out.header.json").read_text())["format"] == "ids"
    assert not (tmp_path / "out.recipe.yaml").exists()
