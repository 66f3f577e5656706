"""Run listing and pair queries on hand-built databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from waiting import polled

from lab_tui.cli import main
from lab_tui.store import queries


def test_list_runs_newest_first_with_totals(builder):
    builder.run("old")
    builder.run("new", skill_path="/tmp/other-skill.yaml")
    builder.pair("new", "p1", status="accepted")
    builder.pair("new", "p2")
    builder.pair("new", "p3", outcome="filtered", status="accepted")
    builder.row("new", "r1", "gen_contexts", status="failed", reason="missing tag")
    builder.row("new", "r2", "gen_contexts", status="ok")
    runs = queries.list_runs(builder.db)
    assert [run["id"] for run in runs] == ["new", "old"]
    new = runs[0]
    assert (new["pairs_kept"], new["accepted"], new["failed_rows"]) == (2, 2, 1)
    assert new["skill"] == "other-skill"
    assert runs[1]["skill"] == "quarterly_email"
    assert new["model"] == "openai/teacher-x"
    assert (runs[1]["pairs_kept"], runs[1]["accepted"], runs[1]["failed_rows"]) == (0, 0, 0)


def test_running_run_with_dead_pid_is_interrupted(builder, dead_pid):
    builder.run("dead", status="running", pid=dead_pid)
    builder.run("alive", status="running", pid=os.getpid())
    builder.run("done", status="completed", pid=dead_pid)
    status = {run["id"]: run["display_status"] for run in queries.list_runs(builder.db)}
    assert status == {"dead": "interrupted", "alive": "running", "done": "completed"}
    assert queries.get_run(builder.db, "dead")["display_status"] == "interrupted"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="zombie detection reads /proc")
def test_killed_but_unreaped_process_counts_as_dead(builder):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        builder.run("zombie", status="running", pid=child.pid)
        assert queries.get_run(builder.db, "zombie")["display_status"] == "running"
        child.kill()
        polled(lambda: queries.get_run(builder.db, "zombie")["display_status"] == "interrupted")
        assert child.poll() is not None
    finally:
        child.kill()
        child.wait()


def test_get_run_unknown_raises(builder):
    builder.run("r1")
    with pytest.raises(queries.UnknownRunError, match="nope"):
        queries.get_run(builder.db, "nope")


def test_pairs_filters_by_run_outcome_status_and_score(builder):
    builder.run("a")
    builder.run("b")
    builder.pair("a", "a1", status="accepted", score=3.0)
    builder.pair("a", "a2", status="rejected", score=2.0)
    builder.pair("a", "a3", outcome="filtered", score=1.0)
    builder.pair("b", "b1", status="accepted")
    ids = lambda pairs: [pair.id for pair in pairs]  # noqa: E731
    assert ids(queries.pairs(builder.db, run_id="a")) == ["a1", "a2", "a3"]
    assert ids(queries.pairs(builder.db, status="accepted")) == ["a1", "b1"]
    assert ids(queries.pairs(builder.db, run_id="a", outcome="kept")) == ["a1", "a2"]
    assert ids(queries.pairs(builder.db, run_id="a", min_score=2.0)) == ["a1", "a2"]
    assert ids(queries.pairs(builder.db, run_id="a", max_score=2.0)) == ["a2", "a3"]
    assert ids(queries.pairs(builder.db, run_id="a", status=("accepted", "pending"))) == ["a1", "a3"]
    assert ids(queries.pairs(builder.db, run_id="a", limit=1, offset=1)) == ["a2"]
    assert queries.pair_counts(builder.db, "a") == {"pending": 0, "accepted": 1, "rejected": 1, "skipped": 0}


def test_runs_command_text_shows_interrupted_hint(builder, dead_pid, capsys):
    builder.run("r-dead", status="running", pid=dead_pid)
    builder.run("r-done")
    assert main(["runs", "--db", str(builder.path)]) == 0
    out = capsys.readouterr().out
    assert "interrupted (resume with lab-tui run --resume r-dead)" in out
    assert out.index("r-done") < out.index("r-dead")
    assert "SECRET_VAR" not in out


def test_runs_command_json(builder, capsys):
    builder.run("r1")
    builder.pair("r1", "p1", status="accepted")
    assert main(["runs", "--db", str(builder.path), "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["id"] == "r1"
    assert (runs[0]["pairs_kept"], runs[0]["accepted"], runs[0]["status_label"]) == (1, 1, "completed")


def test_runs_command_without_database_does_not_create_one(tmp_path, capsys):
    path = tmp_path / "missing.db"
    assert main(["runs", "--db", str(path)]) == 0
    assert "No runs yet" in capsys.readouterr().out
    assert not path.exists()


def test_last_run_by_skill_takes_each_skills_newest_run_and_its_review_progress(builder, dead_pid):
    builder.run("a-old", skill_path="/t/a/qna.yaml")
    builder.pair("a-old", "old-1", status="accepted")
    builder.run("a-new", skill_path="/t/a/qna.yaml", status="running", pid=dead_pid)
    for pair_id, status in (("n1", "accepted"), ("n2", "rejected"), ("n3", "skipped"), ("n4", "pending")):
        builder.pair("a-new", pair_id, status=status)
    builder.pair("a-new", "n5", outcome="filtered", status="accepted")
    builder.run("b", skill_path="/t/b/qna.yaml")
    builder.run("no-path", skill_path=None)
    last = queries.last_run_by_skill(builder.db)
    assert set(last) == {"/t/a/qna.yaml", "/t/b/qna.yaml"}
    a = last["/t/a/qna.yaml"]
    assert (a["id"], a["display_status"], a["kept"], a["reviewed"], a["accepted"]) == ("a-new", "interrupted", 4, 2, 1)
    assert (last["/t/b/qna.yaml"]["id"], last["/t/b/qna.yaml"]["kept"]) == ("b", 0)


def test_runs_names_skills_whose_folders_share_a_name_by_enough_of_their_path(builder, capsys):
    builder.run("r-a", skill_path="/t/compositional_skills/a/logical_reasoning/qna.yaml")
    builder.run("r-b", skill_path="/t/compositional_skills/b/logical_reasoning/qna.yaml")
    builder.run("r-c", skill_path="/t/compositional_skills/writing/email/qna.yaml")
    assert {run["id"]: run["skill"] for run in queries.list_runs(builder.db)} == {
        "r-a": "a/logical_reasoning", "r-b": "b/logical_reasoning", "r-c": "email"}
    assert main(["runs", "--db", str(builder.path)]) == 0
    out = capsys.readouterr().out
    assert "a/logical_reasoning" in out and "b/logical_reasoning" in out


def test_seed_yields_count_each_seed_examples_pairs_across_the_skills_runs_and_why_they_were_rejected(builder):
    skill = "/t/compositional_skills/a/logical_reasoning/qna.yaml"
    builder.run("r1", skill_path=skill)
    builder.run("r2", skill_path=skill)
    builder.run("other", skill_path="/t/compositional_skills/b/logical_reasoning/qna.yaml")
    builder.pair("r1", "a1", seed_index=0, status="accepted")
    builder.pair("r1", "a2", seed_index=0, status="rejected", reason="off-task", note="About  the weather")
    builder.pair("r2", "a3", seed_index=0, status="rejected", reason="off-task", note="about the weather")
    builder.pair("r2", "a4", seed_index=0, status="rejected", reason="wrong", note="about the weather")
    builder.pair("r2", "a5", seed_index=0, outcome="filtered")
    builder.pair("r2", "b1", seed_index=2)
    builder.pair("other", "x1", seed_index=0, status="rejected", reason="unsafe")
    yields = queries.seed_yields(builder.db, skill)
    assert [y.seed_index for y in yields] == [0, 2]
    first = yields[0]
    assert (first.made, first.kept, first.accepted, first.rejected) == (5, 4, 1, 3)
    assert first.reasons == (("off-task", 2), ("wrong", 1))
    assert first.notes == (("about the weather", 2), ("About the weather", 1))
    assert (yields[1].made, yields[1].kept, yields[1].accepted, yields[1].rejected, yields[1].reasons) == \
        (1, 1, 0, 0, ())
    assert queries.seed_yields(builder.db, "/nowhere/qna.yaml") == []
