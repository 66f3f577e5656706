"""The CLI against hostile paths, names and pipes: clear messages, right exit codes, valid output."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from teacher_server import TeacherServer

from lab_tui.cli import main
from lab_tui.resources import example_skill_path
from lab_tui.store.db import open_db

NO_ROOT_POWERS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                  "--inh-caps=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
needs_permissions = pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"),
                                       reason="root without setpriv ignores file permissions")


def lab_tui(*args, home, shell_tail: str = ""):
    env = dict(os.environ, LAB_TUI_HOME=str(home), PYTHONPATH=os.pathsep.join(sys.path))
    command = [*NO_ROOT_POWERS, sys.executable, "-m", "lab_tui", *args]
    if shell_tail:
        return subprocess.run(shlex.join(command) + shell_tail, shell=True, capture_output=True,
                              env=env, timeout=60)
    return subprocess.run(command, capture_output=True, env=env, timeout=60)


@needs_permissions
def test_lint_reports_an_untraversable_folder_and_a_path_inside_it(tmp_path):
    tree = tmp_path / "taxonomy"
    locked = tree / "locked"
    locked.mkdir(parents=True)
    shutil.copy(example_skill_path(), tree / "qna.yaml")
    (locked / "qna.yaml").write_text("not: [valid\n")
    locked.chmod(0)
    try:
        walked = lab_tui("lint", str(tree), home=tmp_path / "home")
        inside = lab_tui("lint", str(locked / "qna.yaml"), home=tmp_path / "home")
    finally:
        locked.chmod(0o755)
    assert walked.returncode == 1
    assert f"{locked}: error file/unreadable: This folder cannot be read: Permission denied." in walked.stdout.decode()
    assert inside.returncode == 2
    assert inside.stderr.decode() == f"lab-tui lint: cannot reach {locked / 'qna.yaml'}: Permission denied\n"


def test_export_into_a_missing_folder_is_a_clear_error_before_the_database_is_read(tmp_path, capsys):
    out = tmp_path / "missing" / "dir" / "out.jsonl"
    assert main(["export", "--run", "r1", "-o", str(out), "--db", str(tmp_path / "lab.db")]) == 1
    assert capsys.readouterr().err == f"lab-tui export: cannot write {out}: the folder {out.parent} does not exist\n"
    assert not (tmp_path / "lab.db").exists()


def test_a_closed_pipe_ends_quietly(tmp_path):
    db = open_db(tmp_path / "lab.db")
    db["runs"].insert_all({"id": f"run-{i:05d}", "created_at": f"2026-11-25T08:{i // 60 % 60:02d}:{i % 60:02d}",
                           "status": "completed", "skill_snapshot": "{}", "flow": "{}", "prompts_version": "p",
                           "teacher": "{}", "params": "{}"} for i in range(3000))
    db.conn.close()
    for fmt in ("json", "text"):
        done = lab_tui("runs", "--format", fmt, "--db", str(tmp_path / "lab.db"), home=tmp_path / "home",
                       shell_tail=" | head -1")
        assert done.returncode == 0 and len(done.stdout.splitlines()) == 1
        assert done.stderr == b""


def test_hostile_file_names_print_safely_and_json_stays_valid_utf8(tmp_path):
    folder = os.fsencode(tmp_path / "skills")
    os.mkdir(folder)
    for name in (b"caf\xe9.yaml", b"\x1b]0;pwned\x07.yaml", b"\xe2\x80\xaeevil.yaml"):
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(b"not: [valid\n")
    as_json = lab_tui("lint", "--format", "json", os.fsdecode(folder), home=tmp_path / "home")
    as_text = lab_tui("lint", os.fsdecode(folder), home=tmp_path / "home")
    entries = json.loads(as_json.stdout.decode("utf-8"))  # strict: raises on invalid UTF-8
    names = sorted(os.path.basename(entry["file"]) for entry in entries)
    assert names == sorted(["caf\\xe9.yaml", "\x1b]0;pwned\x07.yaml", "\u202eevil.yaml"])
    text = as_text.stdout.decode("utf-8")
    assert as_text.returncode == 1 and "caf\\xe9.yaml:2: error yaml/syntax" in text
    assert not any(ch in text for ch in "\x1b\x07\u202e")


HOSTILE = {"link": "[link=http://x]", "bold": "[bold]", "title": "\x1b]0;title\x07"}


def hostile_flow(tmp_path) -> Path:
    """The bundled custom flow with markup and an OSC escape in its name, its block names and labels."""
    from lab_tui.resources import data_folder

    folder = tmp_path / "hostile_flow"
    shutil.copytree(data_folder("prompts") / "unstructured_to_structured", folder)
    flow = (folder / "flow.yaml").read_text()
    quoted = {key: value.replace("\x1b", "\\e").replace("\x07", "\\a") for key, value in HOSTILE.items()}
    for old, new in (
            ("name: unstructured_to_structured", f'name: "{quoted["link"]}flow{quoted["title"]}"'),
            ("label: texts", f'label: "{quoted["bold"]}texts{quoted["title"]}"'),
            ("name: judge_structured", f'name: "{quoted["bold"]}judge{quoted["title"]}"'),
            ("judge: judge_structured", f'judge: "{quoted["bold"]}judge{quoted["title"]}"'),
            ("judges: [judge_structured]", f'judges: ["{quoted["bold"]}judge{quoted["title"]}"]'),
            ("label: answer judge", f'label: "{quoted["link"]}answer judge{quoted["title"]}"'),
            ("name: keep_good", f'name: "{quoted["link"]}keep{quoted["title"]}"'),
            ("name: instruction", f'name: "{quoted["title"]}{quoted["bold"]}instruction"')):
        assert old in flow
        flow = flow.replace(old, new)
    (folder / "flow.yaml").write_text(flow)
    return folder


def assert_drawn_literally(output: bytes) -> str:
    text = output.decode("utf-8")
    assert "\x1b" not in text and "\x07" not in text, "an escape sequence from the flow reached the terminal"
    assert HOSTILE["link"] in text and HOSTILE["bold"] in text, "markup in a flow's names was interpreted"
    return text


def test_run_and_report_print_flow_names_block_names_and_labels_literally(tmp_path):
    with TeacherServer() as teacher_server:
        run_and_report_with_a_hostile_flow(tmp_path, teacher_server)


def run_and_report_with_a_hostile_flow(tmp_path, teacher_server) -> None:
    home, db = tmp_path / "home", str(tmp_path / "lab.db")
    flow = str(hostile_flow(tmp_path))
    base = ["--flow", flow, "--api-base", teacher_server.api_base, "--db", db]
    preview = lab_tui("run", str(example_skill_path()), "--preview", *base, home=home)
    assert preview.returncode == 0, preview.stderr
    shown = assert_drawn_literally(preview.stdout + preview.stderr)  # the tree, the stage table, the summary
    assert f"{HOSTILE['bold']}instruction [ok]" in shown and f"{HOSTILE['link']}keep " in shown
    run = lab_tui("run", str(example_skill_path()), "--count", "contexts=2", *base, home=home)
    assert run.returncode == 0, run.stderr
    assert f"{HOSTILE['bold']}judge " in assert_drawn_literally(run.stdout + run.stderr)
    run_id = run.stdout.decode().split()[1]
    report = lab_tui("report", run_id, "--db", db, home=home)
    assert report.returncode == 0, report.stderr
    shown = assert_drawn_literally(report.stdout + report.stderr)
    assert f"{HOSTILE['link']}answer judge" in shown and f"{HOSTILE['bold']}texts" in shown
    second = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy" / \
        "compositional_skills__grounded__linguistics__inclusion.yaml"
    batch = lab_tui("run", str(example_skill_path()), str(second), "--contexts", "1", *base, home=home)
    assert batch.returncode == 0, batch.stderr
    text = batch.stdout.decode()
    assert "\x1b" not in text and "\x07" not in text and text.count("completed") == 2
