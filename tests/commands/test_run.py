from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab_tui.cli import main
from lab_tui.config import Settings, save_settings
from lab_tui.resources import data_folder, example_skill_path
from lab_tui.store.db import open_db


def lab_tui(*args, env_home, timeout=120):
    env = dict(os.environ, LAB_TUI_HOME=str(env_home))
    return subprocess.run([sys.executable, "-m", "lab_tui", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_run_prints_its_id_first_then_a_summary_and_export_writes_chat_records(teacher_server, tmp_path):
    db = str(tmp_path / "lab.db")
    out = lab_tui("run", str(example_skill_path()), "--api-base", teacher_server.api_base, "--contexts", "3",
                  "--questions", "2", "--db", db, env_home=tmp_path)
    assert out.returncode == 0, out.stderr
    first, *rest = out.stdout.splitlines()
    assert first.startswith("run: ")
    run_id = first.split()[1]
    assert any(line.startswith("status: completed") for line in rest)
    exported = lab_tui("export", "--run", run_id, "--status", "all", "--format", "jsonl", "-o", "-", "--db", db,
                       env_home=tmp_path)
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert records
    roles = [m["role"] for m in records[0]["messages"]]
    assert roles == ["system", "user", "assistant"]
    assert "no-key-needed" not in exported.stdout


def test_a_run_that_cannot_reach_the_teacher_stops_at_once_and_says_how_to_start_one(tmp_path, capsys):
    """In-process (litellm is already imported), with a settings-file profile."""
    save_settings(Settings({"teachers": {"gpu": {"api_base": "http://127.0.0.1:9/v1", "max_attempts": 5}}}))
    code = main(["run", str(example_skill_path()), "--profile", "gpu", "--contexts", "1",
                 "--db", str(tmp_path / "lab.db")])
    captured = capsys.readouterr()
    assert code == 1
    assert "Nothing answers at http://127.0.0.1:9/v1" in captured.err and "lab-tui run --resume" in captured.err


def test_teacher_check_says_in_one_line_whether_it_answers(teacher_server, capsys):
    assert main(["teacher", "check", "--api-base", teacher_server.api_base]) == 0
    good = capsys.readouterr().out
    assert good.count("\n") == 1 and "answers" in good
    assert main(["teacher", "check", "--api-base", "http://127.0.0.1:9/v1"]) == 1
    assert "does not answer: connection" in capsys.readouterr().out


def test_run_without_a_skill_or_resume_is_a_usage_error(tmp_path):
    assert lab_tui("run", env_home=tmp_path).returncode == 2


def test_preview_of_a_seed_example_that_does_not_exist_is_refused_before_any_request(tmp_path, capsys):
    assert main(["run", str(example_skill_path()), "--preview", "99", "--api-base", "http://127.0.0.1:9/v1",
                 "--db", str(tmp_path / "lab.db")]) == 2
    assert "no seed example 99" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["--profile", "nosuch"], ["--concurrency", "-1"], ["--contexts", "-5"], ["--contexts", "0"],
    ["--set", "foo"], ["--set", "gen_contexts.temperature"], ["--questions", "many"],
    ["--count", "contexts"], ["--count", "contexts=0"], ["--count", "=3"], ["--count", "texts=2"],
])
def test_bad_run_arguments_are_usage_errors_before_anything_is_stored(tmp_path, args):
    result = lab_tui("run", str(example_skill_path()), "--db", str(tmp_path / "lab.db"), *args, env_home=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert not (tmp_path / "lab.db").exists() or open_db(tmp_path / "lab.db").execute(
        "SELECT count(*) FROM runs").fetchone()[0] == 0


def texts_flow(tmp_path) -> Path:
    """A custom flow whose count is called `texts`."""
    folder = tmp_path / "texts_flow"
    shutil.copytree(data_folder("prompts") / "unstructured_to_structured", folder)
    flow = folder / "flow.yaml"
    flow.write_text(flow.read_text().replace("count_param: contexts", "count_param: texts"))
    return folder


def test_a_custom_flows_count_is_set_by_its_name(teacher_server, tmp_path, capsys):
    db_path, folder = tmp_path / "lab.db", texts_flow(tmp_path)
    assert main(["run", str(example_skill_path()), "--flow", str(folder), "--count", "texts=2", "--api-base",
                 teacher_server.api_base, "--db", str(db_path)]) == 0
    run_id = capsys.readouterr().out.split()[1]
    db = open_db(db_path)
    assert json.loads(db.execute("SELECT params FROM runs").fetchone()[0])["counts"] == {"texts": 2}
    assert db.execute("SELECT count(*) FROM rows WHERE run_id = ? AND stage = 'gen_texts' AND status = 'ok'",
                      [run_id]).fetchone()[0] == 2 * 5
    assert main(["run", str(example_skill_path()), "--flow", str(folder), "--contexts", "2",
                 "--db", str(db_path)]) == 2
    assert "flow has no contexts count (its counts: texts)" in capsys.readouterr().err


async def test_a_run_stored_with_counts_as_keys_of_their_own_reports_resumes_and_exports(teacher_server, tmp_path,
                                                                                        capsys):
    """As lab-tui stored runs before counts were a mapping, and request ids named the prompt alone."""
    from lab_tui.pipeline.engine import RunParams, run_flow, start_run
    from lab_tui.pipeline.events import RunProgress
    from lab_tui.pipeline.report import build_report
    from lab_tui.pipeline.teacher import TeacherProfile, close_clients
    from lab_tui.seeds import load_skill

    teacher_server.config.latency = 0.02
    db_path = tmp_path / "lab.db"
    db = open_db(db_path)
    run_id = start_run(db, load_skill(example_skill_path()).skill,
                       TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base), RunParams())
    db.execute("UPDATE runs SET params = ? WHERE id = ?", [json.dumps(
        {"flow": "grounded_skills", "contexts": 1, "questions": 1, "concurrency": 2, "prompts_dir": None,
         "preview_seed": None, "overrides": {}}), run_id])
    db.conn.commit()
    cancel = asyncio.Event()
    halt = lambda event: isinstance(event, RunProgress) and event.requests_done >= 6 and cancel.set()  # noqa: E731
    assert (await run_flow(db_path, run_id, on_event=halt, cancel=cancel)).status == "cancelled"
    assert (await run_flow(db_path, run_id)).status == "completed"
    await close_clients()
    answered = teacher_server.answered()
    assert len(answered) == len(set(answered)), "a request answered before the cancel was asked again"
    stages = {stage["stage"]: stage for stage in build_report(db, run_id)["stages"]}
    assert stages["gen_contexts"]["in"] == 5 and stages["gen_contexts"]["out"] == 5
    assert db.execute("SELECT count(*) FROM rows WHERE stage = 'gen_grounded_questions'").fetchone()[0] == 5
    assert main(["report", run_id, "--db", str(db_path)]) == 0
    capsys.readouterr()
    assert main(["export", "--run", run_id, "--status", "all", "-o", "-", "--db", str(db_path)]) == 0
    assert capsys.readouterr().out.count("\n") == db.execute("SELECT count(*) FROM pairs WHERE outcome = 'kept'"
                                                             ).fetchone()[0]
