"""Several skills as one batch: one run each with its own flow, one shared teacher; killed and resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from waiting import polled

from lab_tui.resources import example_skill_path
from lab_tui.store.db import open_db

FREEFORM = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy" / "compositional_skills__linguistics__synonyms.yaml"


def test_a_batch_of_a_grounded_and_a_freeform_skill_is_killed_and_resumed(teacher_server, tmp_path):
    teacher_server.config.latency = 0.05
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 3\ntask_description: [unclosed\n")
    db_path = tmp_path / "lab.db"
    env = dict(os.environ, LAB_TUI_HOME=str(tmp_path / "home"))
    child = subprocess.Popen(
        [sys.executable, "-m", "lab_tui", "run", str(example_skill_path()), str(FREEFORM), str(broken),
         "--api-base", teacher_server.api_base, "--contexts", "1", "--questions", "2", "--concurrency", "3",
         "--db", str(db_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    batch_id = child.stdout.readline().split()[1]
    runs = [child.stdout.readline().split() for _ in range(2)]
    assert batch_id.startswith("batch-") and [Path(r[2]).name for r in runs] == ["qna.yaml", FREEFORM.name]
    polled(lambda: open_db(db_path).execute("SELECT count(DISTINCT run_id) FROM requests WHERE response IS NOT NULL"
                                            ).fetchone()[0] == 2)
    assert teacher_server.max_in_flight <= 3, "the runs of a batch share the teacher's concurrency"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    teacher_server.config.latency = 0.0
    resumed = subprocess.run([sys.executable, "-m", "lab_tui", "run", "--resume", batch_id, "--db", str(db_path)],
                             capture_output=True, text=True, env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    db = open_db(db_path)
    statuses = dict(db.execute("SELECT id, status FROM runs WHERE batch_id = ?", [batch_id]).fetchall())
    assert statuses == {runs[0][1]: "completed", runs[1][1]: "completed"}
    flows = {run_id: flow for run_id, flow in db.execute("SELECT id, json_extract(flow, '$.name') FROM runs")}
    assert flows == {runs[0][1]: "grounded_skills", runs[1][1]: "freeform_skills"}
    again = subprocess.run([sys.executable, "-m", "lab_tui", "run", "--resume", batch_id, "--db", str(db_path)],
                           capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0 and again.stdout.count("run: ") == 0, "a completed batch has nothing to resume"


def test_run_changed_runs_the_skills_changed_on_the_branch_as_one_batch(teacher_server, tmp_path):
    import shutil

    def git(*args):
        subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                       check=True, capture_output=True)

    def place(name, source):
        path = root / "compositional_skills" / name / "qna.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, path)

    root = tmp_path / "taxonomy"
    for name in ("edited", "untouched"):
        place(name, example_skill_path())
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git("add", ".")
    git("commit", "-qm", "base")
    git("update-ref", "refs/remotes/origin/main", "HEAD")
    git("checkout", "-qb", "feature")
    place("edited", FREEFORM)
    place("added", FREEFORM)
    env = dict(os.environ, LAB_TUI_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "lab_tui", "run", str(root), "--changed", "--questions", "1",
                           "--api-base", teacher_server.api_base, "--db", str(tmp_path / "lab.db")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    started = [line.split()[2] for line in done.stdout.splitlines() if line.startswith("run: ")]
    assert sorted(Path(path).parent.name for path in started) == ["added", "edited"]
    assert "2 skill file(s) changed" in done.stderr
    missing_base = subprocess.run([sys.executable, "-m", "lab_tui", "run", str(root), "--changed", "--base", "nope",
                                   "--db", str(tmp_path / "lab.db")], capture_output=True, text=True, env=env)
    assert missing_base.returncode == 2 and "no git ref 'nope'" in missing_base.stderr
